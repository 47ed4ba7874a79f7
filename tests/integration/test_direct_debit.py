"""Bank direct debit by file exchange, on moto: owners enrol from the account page (the account
number encrypted under the KMS key, masked everywhere), an admin makes the period's deduction
file, the bank's result file lands the successes once and tells the owners whose debit failed;
the same result file again changes nothing, and a line that does not match is refused, named."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from ops_support import import_demo_units

from api.handler import lambda_handler
from infra.local.events import staff_claims
from propdesk import naming
from propdesk.services import debit
from propdesk.store.bills import BillRepository
from propdesk.store.mandates import MandateRepository
from propdesk.store.payments import PaymentRepository
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

ADMIN = staff_claims("admin", sub="admin-zhao")
CASHIER = staff_claims("cashier", sub="cashier-li")
FORM = {"content-type": "application/x-www-form-urlencoded"}
ACCOUNTS = {"A-101": "6222 0212 3456 7890 123", "A-102": "6217-0000-1111-2222", "A-103": "6225880012345678"}


def call(key: str, *, claims=ADMIN, **kwargs) -> tuple[int, dict]:
    response = lambda_handler(route_event(key, claims=claims, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"] or "null")


def owner_post(key: str, token: str, body: str) -> dict:
    return lambda_handler(route_event(key, params={"token": token}, body=body, headers=FORM), LambdaContext())


def enrol_form(holder: str, account: str, bank: str = "招商银行", consent: bool = True) -> str:
    from urllib.parse import urlencode

    fields = {"bank": bank, "holder": holder, "account": account, "lang": "zh-CN"}
    if consent:
        fields["consent"] = "yes"
    return urlencode(fields)


@pytest.fixture
def enrolled(aws, demo_config):
    import_demo_units(demo_config, 4)
    bills = {
        unit: store_bill(make_bill(unit, "2027-01", owner_id=f"O000{n}"))
        for n, unit in enumerate(("A-101", "A-102", "A-103", "A-104"), start=1)
    }
    for unit, account in ACCOUNTS.items():
        answer = owner_post("owner_debit_enrol", pay_token(bills[unit]), enrol_form("张伟", account))
        assert answer["statusCode"] == 303 and "notice=debit_enrolled" in answer["headers"]["Location"]
    return bills


def results_file(batch: dict, outcomes: dict[str, tuple[str, str]]) -> bytes:
    rows = ["备注,金额,结果,原因"]
    for line in batch["lines"]:
        result, reason = outcomes[line["unit_id"]]
        amount = line["amount_minor"]
        rows.append(f"{line['reference']},{amount // 100}.{amount % 100:02d},{result},{reason}")
    return ("\n".join(rows) + "\n").encode()


def test_an_owner_enrols_and_sees_only_the_masked_account(enrolled, aws):
    bill = enrolled["A-101"]
    page = lambda_handler(route_event("bill_page", params={"token": pay_token(bill)}), LambdaContext())[
        "body"
    ]
    assert "6222 **** **** 0123" in page and "6222021234567890123" not in page and "张伟" not in page
    mandate = MandateRepository().get("A-101")
    assert (mandate.bank, mandate.holder_masked, mandate.account_masked) == (
        "招商银行",
        "张*",
        "6222 **** **** 0123",
    )
    # the stored item holds the number only encrypted, bound to its unit
    item = boto3.client("dynamodb").get_item(
        TableName=aws[naming.table_env("mandates")], Key={"unit_id": {"S": "A-101"}, "kind": {"S": "debit"}}
    )["Item"]
    assert "6222021234567890123" not in json.dumps(item, ensure_ascii=False)
    kms = boto3.client("kms")
    blob = base64.b64decode(mandate.ciphertext)
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        context = {"property_id": "demo", "unit_id": "A-102", "purpose": "direct_debit"}
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)


def test_bad_enrolments_store_nothing(aws, demo_config):
    import_demo_units(demo_config, 1)
    token = pay_token(store_bill(make_bill("A-101", "2027-01")))
    for form in (
        enrol_form("张伟", "12345"),
        enrol_form("张伟", "6222 0212 3456 7890", bank="Bank of Nowhere"),
    ):
        answer = owner_post("owner_debit_enrol", token, form)
        assert answer["statusCode"] == 303 and "notice=debit_invalid" in answer["headers"]["Location"]
    no_consent = owner_post("owner_debit_enrol", token, enrol_form("张伟", "6222021234567890", consent=False))
    assert no_consent["statusCode"] == 422
    assert MandateRepository().get("A-101") is None


def test_the_cycle_s_file_the_bank_s_results_and_the_same_results_again(enrolled, aws):
    # GIVEN an owner who cancelled before the file is made
    owner_post("owner_debit_cancel", pay_token(enrolled["A-103"]), "lang=en")
    # WHEN the admin makes January's file
    status, batch = call("debit_batch", params={"period": "2027-01"})
    assert status == 201
    # THEN it has the two enrolled units, masked in the answer, in full only in the bank's file
    assert [(line["unit_id"], line["account"]) for line in batch["lines"]] == [
        ("A-101", "6222 **** **** 0123"),
        ("A-102", "6217 **** **** 2222"),
    ]
    assert [line["amount_minor"] for line in batch["lines"]] == [
        enrolled["A-101"].total_minor,
        enrolled["A-102"].total_minor,
    ]
    query = parse_qs(urlparse(batch["file_url"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    key = f"debit/demo/{batch['batch_id']}.csv"
    content = boto3.client("s3").get_object(Bucket=aws[naming.DOCUMENTS_BUCKET_ENV], Key=key)["Body"].read()
    text = content.decode("utf-8-sig")
    assert "6222021234567890123" in text and "6217000011112222" in text and "6225880012345678" not in text
    assert "DD202701-0001" in text and "张伟" in text
    # AND asking again is the same batch
    status, again = call("debit_batch", params={"period": "2027-01"})
    assert status == 200 and again["lines"] == batch["lines"]
    # WHEN the bank's results come back: A-101 paid, A-102 refused (余额不足)
    results = results_file(batch, {"A-101": ("成功", ""), "A-102": ("失败", "余额不足")})
    status, applied = call(
        "debit_results", body=results, headers={"content-type": "text/csv"}, claims=CASHIER
    )
    assert status == 200, applied
    by_unit = {r["unit_id"]: r for r in applied["results"]}
    assert by_unit["A-101"]["state"] == "paid" and by_unit["A-101"]["receipt_no"]
    assert by_unit["A-102"]["state"] == "failed"
    # THEN A-101's bill is paid, once, by direct debit; A-102's stays open for the reminders
    [payment] = PaymentRepository().of_unit("A-101")
    assert (payment.payment_id, payment.method) == ("debit:DD202701-0001", "direct_debit")
    assert BillRepository().get(enrolled["A-101"].bill_id).status == "paid"
    assert BillRepository().get(enrolled["A-102"].bill_id).status == "open"
    assert PaymentRepository().of_unit("A-102") == []
    # AND the owner of A-102 is told, with the bank's reason and a link to pay
    sqs = boto3.client("sqs")
    queued = sqs.receive_message(QueueUrl=aws[naming.queue_env("messages")], MaxNumberOfMessages=10)[
        "Messages"
    ]
    told = [json.loads(m["Body"]) for m in queued if "debit:DD202701-0002" in m["Body"]]
    assert (
        len(told) == 1
        and told[0]["context"]["reason"] == "余额不足"
        and "/pay/" in told[0]["context"]["pay_url"]
    )
    # WHEN the same result file is imported again
    status, repeated = call(
        "debit_results", body=results, headers={"content-type": "text/csv"}, claims=CASHIER
    )
    # THEN nothing changes
    assert status == 200 and all(not r["changed"] for r in repeated["results"])
    assert len(PaymentRepository().of_unit("A-101")) == 1


def test_payments_30_a_result_line_that_does_not_match_refuses_the_whole_file(enrolled):
    _, batch = call("debit_batch", params={"period": "2027-01"})
    good = batch["lines"][0]
    text = (
        "reference,amount,result,reason\n"
        f"{good['reference']},{good['amount_minor'] // 100}.{good['amount_minor'] % 100:02d},success,\n"
        "DD202701-0099,1.00,success,\n"
        f"{batch['lines'][1]['reference']},1.00,success,\n"
        "DD202701-0001,1.00,maybe,\n"
    )
    status, body = call("debit_results", body=text.encode(), headers={"content-type": "text/csv"})
    assert status == 400 and body["error"] == "invalid_csv"
    assert [e["line"] for e in body["errors"]] == [5]  # the result word first; then the batch checks
    text = text.replace("maybe", "success").rsplit("\n", 2)[0] + "\n"
    status, body = call("debit_results", body=text.encode(), headers={"content-type": "text/csv"})
    assert status == 400 and [e["line"] for e in body["errors"]] == [3, 4]
    assert PaymentRepository().of_unit("A-101") == []


def test_masks():
    assert debit.mask_account("6222021234567890123") == "6222 **** **** 0123"
    assert debit.mask_name("欧阳娜娜") == "欧***"
    assert debit.mask_name("Anna Liu") == "A*** L***"
    with pytest.raises(ValueError):
        debit.normalise_account("6222 abc")


def test_a_result_for_a_batch_with_no_such_line_is_refused_not_a_failure(aws, demo_config):
    import_demo_units(demo_config, 1)
    status, batch = call("debit_batch", params={"period": "2026-12"})  # nobody enrolled: no lines
    assert status == 201 and batch["lines"] == []
    text = "reference,amount,result\nDD202612-0001,1.00,success\nDD209901-0001,1.00,success\n"
    status, body = call("debit_results", body=text.encode(), headers={"content-type": "text/csv"})
    assert status == 400 and [(e["line"], e["message"]) for e in body["errors"]] == [
        (2, "no line 1 in batch DD202612"),
        (3, "no deduction batch DD209901"),
    ]


def test_a_bill_in_a_file_still_at_the_bank_is_not_asked_for_again(enrolled):
    feb = store_bill(make_bill("A-101", "2027-02", owner_id="O0001"))
    _, january = call("debit_batch", params={"period": "2027-01"})
    status, february = call("debit_batch", params={"period": "2027-02"})
    assert status == 201
    line = next(line for line in february["lines"] if line["unit_id"] == "A-101")
    assert line["bill_ids"] == [feb.bill_id] and line["amount_minor"] == feb.total_minor
    assert any(enrolled["A-101"].bill_id in line["bill_ids"] for line in january["lines"])


def test_a_result_file_that_answers_a_line_twice_is_refused(enrolled):
    _, batch = call("debit_batch", params={"period": "2027-01"})
    line = batch["lines"][0]
    amount = f"{line['amount_minor'] // 100}.{line['amount_minor'] % 100:02d}"
    text = f"reference,amount,result\n{line['reference']},{amount},失败\n{line['reference']},{amount},成功\n"
    status, body = call("debit_results", body=text.encode(), headers={"content-type": "text/csv"})
    assert status == 400 and [e["line"] for e in body["errors"]] == [3]
    assert PaymentRepository().of_unit(line["unit_id"]) == []
