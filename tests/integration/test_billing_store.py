"""BillRepository on moto: conditional create, mapping round trip, index queries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from propdesk.domain.billing import Bill, BillLine
from propdesk.store.bills import BillRepository

ISSUED = datetime(2026, 6, 16, 1, 0, tzinfo=UTC)


def _bill(unit_id="A-101", period="2026-07", due=date(2026, 7, 15), status="open") -> Bill:
    line = BillLine("service", "per_m2", 280, 8937, 25024)
    return Bill(
        f"{unit_id}#{period}",
        unit_id,
        "O0001",
        period,
        "SH-2026-01",
        (line,),
        25024,
        "CNY",
        due,
        status,
        ISSUED,
    )


def test_create_is_conditional_and_round_trips(aws):
    repo = BillRepository()
    # GIVEN a new bill WHEN it is created twice
    first = repo.create(_bill())
    second = repo.create(replace(_bill(), total_minor=1))
    # THEN only the first write counts
    assert (first, second) == (True, False)
    stored = repo.get("A-101#2026-07")
    assert stored is not None
    assert stored.total_minor == 25024
    assert stored.lines == _bill().lines
    assert stored.issued_at == ISSUED
    assert stored.due_date == date(2026, 7, 15)
    assert stored.version == 1
    assert repo.get("nope#2026-07") is None


def test_list_period_and_open_due_before_use_the_indexes(aws):
    repo = BillRepository()
    repo.create(_bill("A-101", "2026-07", date(2026, 7, 15)))
    repo.create(_bill("A-102", "2026-07", date(2026, 7, 15), status="paid"))
    repo.create(_bill("A-101", "2026-08", date(2026, 8, 15)))
    assert sorted(b.bill_id for b in repo.list_period("2026-07")) == ["A-101#2026-07", "A-102#2026-07"]
    assert [b.bill_id for b in repo.open_due_before(date(2026, 7, 16))] == ["A-101#2026-07"]
    assert list(repo.open_due_before(date(2026, 7, 15))) == []
    assert sorted(b.bill_id for b in repo.open_due_before(date(2026, 9, 1))) == [
        "A-101#2026-07",
        "A-101#2026-08",
    ]


def test_the_indexes_hold_keys_only_and_the_bills_are_read_back_whole(aws):
    from propdesk.store.models import TABLES, BillItem

    # GIVEN no global secondary index copies whole items: keys only, or the one attribute its
    # query reads besides them (the held messages' request, an SMS's owner)
    for table in TABLES:
        for name, index in table.model._indexes.items():
            projection = index.Meta.projection
            assert projection.projection_type in ("KEYS_ONLY", "INCLUDE"), f"{table.key}.{name}"
            assert len(getattr(projection, "non_key_attributes", None) or ()) <= 1, f"{table.key}.{name}"
    repo = BillRepository()
    for n in range(3):
        repo.create(_bill(unit_id=f"A-10{n}"))
    # WHEN the period index is queried as it is stored
    raw = next(iter(BillItem.period_index.query("2026-07")))
    # THEN it holds the keys only, and the repository reads the bills back whole, in index order
    assert raw.total_minor is None and raw.bill_id == "A-100#2026-07"
    listed = list(repo.list_period("2026-07"))
    assert [b.bill_id for b in listed] == [f"A-10{n}#2026-07" for n in range(3)]
    assert listed[0] == repo.get("A-100#2026-07")
    assert listed[0].lines == _bill().lines
