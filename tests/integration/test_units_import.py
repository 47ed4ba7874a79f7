"""Units import on moto: all-or-nothing, idempotent upsert."""

from __future__ import annotations

from datetime import UTC, datetime

from infra.config import units_csv_path
from propdesk.services.units import COLUMNS, import_units_csv
from propdesk.store.models import OwnerItem, UnitItem
from propdesk.store.owners import OwnerRepository
from propdesk.store.units import UnitRepository

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _now():
    return NOW


def test_demo_file_imports_once_then_changes_nothing(aws, demo_config):
    text = units_csv_path(demo_config).read_text(encoding="utf-8")
    # WHEN the demo file is imported twice
    first = import_units_csv(text, config=demo_config, now=_now)
    second = import_units_csv(text, config=demo_config, now=_now)
    # THEN the first creates every unit and the second changes nothing
    assert (first.created, first.updated, first.errors) == (312, 0, [])
    assert (second.created, second.updated, second.unchanged, second.errors) == (0, 0, 312, [])
    assert UnitItem.count() == 312
    unit = UnitRepository().get("A-101")
    assert unit is not None and unit.area_centi_m2 == 8937
    owner = OwnerRepository().get(unit.owner_id)
    assert owner is not None and owner.locale == "en" and owner.sms_consent is True
    assert sum(len(page) for page in UnitRepository().pages(page_size=50)) == 312


def test_a_bad_line_writes_nothing(aws, demo_config):
    header = ",".join(COLUMNS)
    good = "A-101,A,1,101,89.37,O0001,Anna Liu,+8613872620224,owner0001@mail.example.com,en,yes"
    bad = "A-102,A,1,102,0,O0002,Wu Na,,,zh-CN,no"
    # WHEN a file with one good and one bad line is imported
    result = import_units_csv(f"{header}\n{good}\n{bad}\n", config=demo_config, now=_now)
    # THEN the bad line is reported and nothing at all is written
    assert result.created == 0
    assert [line for line, _ in result.errors] == [3]
    assert UnitItem.count() == 0
    assert OwnerItem.count() == 0


def test_changed_area_and_owner_contact_count_as_updates(aws, demo_config):
    header = ",".join(COLUMNS)
    line = "A-101,A,1,101,89.37,O0001,Anna Liu,+8613872620224,owner0001@mail.example.com,en,yes"
    other = "A-102,A,1,102,100,O0002,Wu Na,+8613821979300,,zh-CN,no"
    import_units_csv(f"{header}\n{line}\n{other}\n", config=demo_config, now=_now)
    # WHEN the area of A-101 and the consent of A-102's owner change
    result = import_units_csv(
        f"{header}\n{line.replace('89.37', '89.40')}\n{other.replace(',no', ',yes')}\n",
        config=demo_config,
        now=_now,
    )
    # THEN both units count as updated and the stored values follow
    assert (result.created, result.updated, result.unchanged) == (0, 2, 0)
    assert UnitRepository().get("A-101").area_centi_m2 == 8940
    assert OwnerRepository().get("O0002").sms_consent is True
