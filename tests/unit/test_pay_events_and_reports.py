"""Which Stripe events credit a bill, and the collection summary arithmetic."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from propdesk.payments.events import Ignored, OnlinePayment, interpret_event
from propdesk.services.reports import collection_rate_bp, summarize
from tests.paytools import checkout_event, make_bill


def test_completed_paid_session_is_a_payment():
    bill = make_bill()
    event = checkout_event(
        bill, payment_intent="pi_1", created=1772330000, event_id="evt_1", session_id="cs_1"
    )
    result = interpret_event(event, property_id="demo", livemode=False)
    assert result == OnlinePayment(
        event_id="evt_1",
        event_type="checkout.session.completed",
        payment_id="stripe:pi_1",
        bill_ids=(bill.bill_id,),
        amount_minor=bill.total_minor,
        currency="CNY",
        paid_at=datetime.fromtimestamp(1772330000, tz=UTC),
        unit_id="A-101",
        session_id="cs_1",
    )


def test_a_session_for_all_open_bills_names_each_of_them_and_its_method():
    event = checkout_event(make_bill(), payment_intent="pi_all")
    session = event["data"]["object"]
    session["metadata"]["bill_ids"] = "A-101#2026-02,A-101#2026-03"
    session["payment_method_types"] = ["wechat_pay"]
    result = interpret_event(event, property_id="demo", livemode=False)
    assert result.bill_ids == ("A-101#2026-02", "A-101#2026-03") and result.method == "wechat_pay"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["data"]["object"]["metadata"].update(property_id="other"),
        lambda e: e["data"]["object"].update(metadata=None),
        lambda e: e.update(type="charge.refunded"),
        lambda e: e["data"]["object"].update(payment_status="unpaid"),
        lambda e: e["data"]["object"].update(amount_total="32727"),
        lambda e: e["data"]["object"].update(amount_total=True),
        lambda e: e["data"]["object"].update(payment_intent=None, id=None),
        lambda e: e.update(data="nope"),
        lambda e: e.update(livemode=True),
    ],
)
def test_events_that_do_not_credit_are_ignored(mutate):
    event = checkout_event(make_bill())
    mutate(event)
    assert isinstance(interpret_event(event, property_id="demo", livemode=False), Ignored)


def test_async_success_is_a_payment_and_bill_id_falls_back_to_client_reference():
    event = checkout_event(make_bill(), event_type="checkout.session.async_payment_succeeded")
    del event["data"]["object"]["metadata"]["bill_ids"]
    result = interpret_event(event, property_id="demo", livemode=False)
    assert isinstance(result, OnlinePayment) and result.bill_id == "A-101#2026-03"


def test_summary_of_a_period():
    paid = replace(make_bill("A-101"), status="paid", paid_minor=32727)
    bills = [paid, make_bill("A-102"), make_bill("A-103")]
    summary = summarize("2026-03", bills, currency="CNY")
    assert (summary.bills_issued, summary.bills_paid, summary.bills_unpaid) == (3, 1, 2)
    assert (summary.billed_minor, summary.collected_minor, summary.outstanding_minor) == (98181, 32727, 65454)
    assert summary.collection_rate_bp == 3333


def test_empty_period_has_zero_rate():
    summary = summarize("2026-03", [], currency="CNY")
    assert summary.bills_issued == 0 and summary.collection_rate_bp == 0


@pytest.mark.parametrize(
    ("collected", "billed", "bp"), [(1, 3, 3333), (2, 3, 6667), (1, 20000, 1), (1, 20001, 0), (5, 5, 10000)]
)
def test_collection_rate_rounds_half_up(collected, billed, bp):
    assert collection_rate_bp(collected, billed) == bp


def test_summary_refuses_mixed_currencies():
    with pytest.raises(ValueError):
        summarize("2026-03", [make_bill(currency="USD")], currency="CNY")
