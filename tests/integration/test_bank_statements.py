"""Bank transfers matched from the bank's statement, on moto: a cashier uploads the CSV, reads the
proposed matches, confirms them; the same statement again changes nothing, a transfer the desk
recorded already is not counted twice, and a bad row refuses the whole file with its line named."""

from __future__ import annotations

import json

import pytest
from ops_support import import_demo_units

from api.handler import lambda_handler
from infra.local.events import staff_claims
from propdesk.services.bankstatements import parse_amount, parse_statement, unit_candidates
from propdesk.store.bills import BillRepository
from propdesk.store.payments import PaymentRepository
from tests.paytools import make_bill, store_bill
from tests.route_events import LambdaContext, route_event

CASHIER = staff_claims("cashier", sub="cashier-li")
AGENT = staff_claims("agent", sub="agent-wu")
CSV = {"content-type": "text/csv"}


def call(key: str, *, claims=CASHIER, **kwargs) -> tuple[int, dict]:
    response = lambda_handler(route_event(key, claims=claims, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


def upload(text: str, **kwargs) -> tuple[int, dict]:
    return call("import_bank_statement", body=text.encode(), headers=CSV, **kwargs)


def decide(statement_id: str, *decisions: dict, **kwargs) -> tuple[int, dict]:
    return call(
        "decide_bank_lines",
        params={"statement_id": statement_id},
        body={"decisions": list(decisions)},
        **kwargs,
    )


@pytest.fixture
def owing(aws, demo_config):
    import_demo_units(demo_config, 4)
    bills = {
        "A-101": [store_bill(make_bill("A-101", "2026-11")), store_bill(make_bill("A-101", "2026-12"))],
        "A-102": [store_bill(make_bill("A-102", "2026-12", owner_id="O0002"))],
        "A-103": [store_bill(make_bill("A-103", "2026-12", owner_id="O0003"))],
    }
    return bills


def yuan(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def test_transfers_are_proposed_by_memo_and_amount_confirmed_once_and_the_same_file_changes_nothing(owing):
    november, december = owing["A-101"]
    a102 = owing["A-102"][0]
    statement = "\n".join(
        [
            "date,amount,payer,memo,reference",
            # the oldest bill of A-101, exactly; the unit written without its hyphen
            f"2026-12-18,{yuan(november.total_minor)},Anna Liu,a101 management fee,CMB001",
            # A-102 in Chinese, an amount that is not what it owes
            "2026-12-18,100.00,吴娜,A栋102 物业费,CMB002",
            # no unit in the memo
            "2026/12/19,88.00,王先生,物业费,CMB003",
            # money out
            "20261219,-15.00,bank,fee,CMB004",
        ]
    )
    # WHEN the cashier uploads it
    status, body = upload(statement)
    assert status == 201 and body["created"] is True
    lines = {line["line"]: line for line in body["lines"]}
    # THEN each line has its proposal, and nothing is paid yet
    assert (lines[2]["state"], lines[2]["match"], lines[2]["unit_id"]) == ("proposed", "exact", "A-101")
    assert lines[2]["bill_ids"] == [november.bill_id]
    assert (lines[3]["state"], lines[3]["match"], lines[3]["unit_id"]) == ("proposed", "unit", "A-102")
    assert lines[3]["owed_minor"] == a102.total_minor
    assert (lines[4]["state"], lines[4]["reason"]) == ("unmatched", "no unit reference in the memo")
    assert lines[5]["state"] == "not_a_credit"
    assert body["counts"] == {"proposed": 2, "unmatched": 1, "not_a_credit": 1}
    assert PaymentRepository().of_unit("A-101") == []
    statement_id = body["statement_id"]
    # WHEN the cashier confirms both proposals and names the unit of the unmatched line
    status, body = decide(
        statement_id,
        {"line": 2, "action": "confirm"},
        {"line": 3, "action": "confirm"},
        {"line": 4, "action": "confirm", "unit_id": "A-103"},
    )
    assert status == 200, body
    results = {r["line"]: r for r in body["results"]}
    assert all(r["state"] == "confirmed" and r["receipt_no"] for r in results.values())
    # THEN each landed like any payment: November paid, A-102 part paid, A-103 part paid
    assert BillRepository().get(november.bill_id).status == "paid"
    assert BillRepository().get(december.bill_id).status == "open"
    assert BillRepository().get(a102.bill_id).paid_minor == 10000
    assert BillRepository().get(owing["A-103"][0].bill_id).paid_minor == 8800
    [payment] = PaymentRepository().of_unit("A-101")
    assert (payment.payment_id, payment.method, payment.channel) == (
        "transfer:CMB001",
        "bank_transfer",
        "bank",
    )
    # WHEN the same statement is uploaded again, and the same decisions sent again
    status, again = upload(statement)
    assert status == 200 and again["created"] is False and again["statement_id"] == statement_id
    assert again["counts"] == {"confirmed": 3, "not_a_credit": 1}
    status, repeated = decide(statement_id, {"line": 2, "action": "confirm"})
    assert status == 200 and repeated["results"][0]["payment_id"] == "transfer:CMB001"
    # THEN nothing changed
    assert len(PaymentRepository().of_unit("A-101")) == 1
    assert BillRepository().get(december.bill_id).status == "open"


def test_a_transfer_the_desk_recorded_is_not_counted_again(owing):
    bill = owing["A-102"][0]
    status, _ = call(
        "record_desk_payment",
        params={"unit_id": "A-102"},
        body={
            "request_id": "desk-transfer-1",
            "amount_minor": bill.total_minor,
            "method": "bank_transfer",
            "reference": "cmb 777",
        },
    )
    assert status == 201
    status, body = upload(
        f"date,amount,payer,memo,reference\n2026-12-18,{yuan(bill.total_minor)},吴娜,A-102,CMB-777\n"
    )
    assert status == 201
    status, body = decide(body["statement_id"], {"line": 2, "action": "confirm", "unit_id": "A-102"})
    assert status == 200 and body["results"][0]["state"] == "recorded_already"
    assert len(PaymentRepository().of_unit("A-102")) == 1


def test_a_line_set_aside_is_never_paid(owing):
    _, body = upload("date,amount,payer,memo\n2026-12-18,50.00,某公司,退款 A-101\n")
    status, decided = decide(
        body["statement_id"], {"line": 2, "action": "set_aside", "note": "supplier refund"}
    )
    assert status == 200 and decided["results"][0]["state"] == "set_aside"
    status, decided = decide(body["statement_id"], {"line": 2, "action": "confirm"})
    assert decided["results"][0]["state"] == "set_aside"
    assert PaymentRepository().of_unit("A-101") == []


def test_a_statement_with_a_bad_row_is_refused_whole_with_the_line_named(owing):
    status, body = upload(
        "date,amount,payer,memo\n2026-12-18,10.00,a,A-101\n2026-13-40,10.00,b,A-102\n2026-12-18,ten,c,A-103\n"
    )
    assert status == 400 and body["error"] == "invalid_csv"
    assert [(e["line"], e["message"].split(":")[0]) for e in body["errors"]] == [
        (3, "not a date"),
        (4, "not an amount"),
    ]
    assert PaymentRepository().of_unit("A-101") == []
    status, body = upload("when,how much\n2026-12-18,10\n")
    assert status == 400 and "payer" in body["errors"][0]["message"]


def test_an_agent_reads_but_cannot_upload_or_confirm(owing):
    _, body = upload("date,amount,payer,memo\n2026-12-18,50.00,x,A-101\n")
    assert call("get_bank_statement", params={"statement_id": body["statement_id"]}, claims=AGENT)[0] == 200
    assert upload("date,amount,payer,memo\n2026-12-18,51.00,x,A-101\n", claims=AGENT)[0] == 403
    assert decide(body["statement_id"], {"line": 2, "action": "confirm"}, claims=AGENT)[0] == 403


def test_payments_30_the_same_statement_with_other_line_endings_and_a_bom_is_the_same_statement(owing):
    text = "date,amount,payer,memo,reference\n2026-12-18,50.00,x,A-101,R1\n2026-12-18,60.00,y,A-102,R2\n"
    _, first = upload(text)
    status, second = upload("\ufeff" + text.replace("\n", "\r\n"))
    assert status == 200 and second["statement_id"] == first["statement_id"] and second["created"] is False


@pytest.mark.parametrize(
    ("text", "minor"),
    [("327.27", 32727), ("1,234.5", 123450), ("-20", -2000), ("¥88.00", 8800), ("0.07", 7)],
)
def test_amounts_are_read_exactly(text, minor):
    assert parse_amount(text) == minor


@pytest.mark.parametrize("text", ["1.234", "12,34.00", "abc", "", "1e3"])
def test_amounts_that_are_not_amounts_are_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_unit_references_are_found_in_memos():
    assert unit_candidates("a-1203 fee") == ["A-1203"]
    assert unit_candidates("B 1504 物业费")[0] == "B-1504"
    assert unit_candidates("C座0201")[0] == "C-0201"
    assert unit_candidates("物业费") == []


def test_two_identical_lines_without_a_reference_are_two_transfers():
    lines = parse_statement("date,amount,payer,memo\n2026-12-18,50.00,x,A-101\n2026-12-18,50.00,x,A-101\n")
    assert len({line.key for line in lines}) == 2
