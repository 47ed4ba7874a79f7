"""Receipts as documents on moto: made once in the documents bucket, reached by a short-lived link
from the desk and from the owner's account page; a void makes its own file, keeping the number."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlparse

import boto3
import pypdfium2
import pytest
import requests
from ops_support import import_demo_units

from api.handler import lambda_handler
from infra.local.events import staff_claims
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event

CASHIER = staff_claims("cashier", sub="cashier-li")
ADMIN = staff_claims("admin", sub="admin-zhao")


def call(key: str, *, claims=CASHIER, **kwargs) -> dict:
    return lambda_handler(route_event(key, claims=claims, **kwargs), LambdaContext())


def text_of(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    page = document[0]
    return page.get_textpage().get_text_range()


@pytest.fixture
def paid(aws, demo_config):
    import_demo_units(demo_config, 3)
    bill = store_bill(make_bill("A-101", "2026-03", owner_id="O0001"))
    body = {"request_id": "req-receipt-01", "amount_minor": bill.total_minor, "method": "cash"}
    answer = json.loads(call("record_desk_payment", params={"unit_id": "A-101"}, body=body)["body"])
    return bill, answer


def stored_keys(env) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=env["DOCUMENTS_BUCKET"], Prefix="receipts/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_the_desk_gets_a_short_lived_link_to_the_receipt_pdf_made_once(paid, aws):
    _bill, payment = paid
    first = json.loads(call("payment_receipt", params={"payment_id": payment["payment_id"]})["body"])
    again = json.loads(call("payment_receipt", params={"payment_id": payment["payment_id"]})["body"])
    assert first["receipt_no"] == payment["receipt_no"] and first["expires_in"] == 300
    assert int(parse_qs(urlparse(first["url"]).query)["X-Amz-Expires"][0]) == 300
    no = payment["receipt_no"]
    assert stored_keys(aws) == [f"receipts/demo/{no[5:9]}/{no}.zh-CN.pdf"]  # made once
    pdf = requests.get(again["url"], timeout=10).content
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    assert no in text and "A-101" in text and "现金" in text and "锦绣花园" in text and "发票" in text


def test_the_owner_opens_the_receipt_from_the_account_page_in_their_language(paid, aws):
    bill, payment = paid
    token = pay_token(bill)
    page = call("bill_page", params={"token": token}, query={"lang": "en"}, claims=None)["body"]
    link = f"/pay/{token}/payments/desk%3Areq-receipt-01/receipt?lang=en"
    assert link in page
    response = call(
        "owner_receipt",
        params={"token": token, "payment_id": payment["payment_id"]},
        query={"lang": "en"},
        claims=None,
    )
    assert response["statusCode"] == 303
    pdf = requests.get(response["headers"]["Location"], timeout=10).content
    assert "Cash" in text_of(pdf) and payment["receipt_no"] in text_of(pdf)


def test_another_unit_s_receipt_is_the_not_found_page(paid, aws):
    _bill, payment = paid
    other = store_bill(make_bill("A-102", "2026-03", owner_id="O0002"))
    response = call(
        "owner_receipt", params={"token": pay_token(other), "payment_id": payment["payment_id"]}, claims=None
    )
    assert response["statusCode"] == 404 and payment["receipt_no"] not in response["body"]
    assert stored_keys(aws) == []


def test_a_voided_receipt_keeps_its_number_in_a_file_of_its_own_marked_void(paid, aws):
    _bill, payment = paid
    payment_id = payment["payment_id"]
    call("payment_receipt", params={"payment_id": payment_id})
    call("request_void", params={"payment_id": payment_id}, body={"reason": "wrong unit"})
    call("approve_void", params={"payment_id": payment_id}, claims=ADMIN)
    link = json.loads(call("payment_receipt", params={"payment_id": payment_id})["body"])
    no = payment["receipt_no"]
    assert stored_keys(aws) == [
        f"receipts/demo/{no[5:9]}/{no}-void.zh-CN.pdf",
        f"receipts/demo/{no[5:9]}/{no}.zh-CN.pdf",
    ]
    text = text_of(requests.get(link["url"], timeout=10).content)
    assert no in text and "作废" in text and "wrong unit" in text


def _ask_invoice(token: str, payment_id: str, title: str, tax_id: str = "") -> dict:
    from urllib.parse import quote

    return call(
        "owner_invoice",
        params={"token": token, "payment_id": payment_id},
        body=f"title={quote(title)}&tax_id={quote(tax_id)}&lang=en",
        headers={"content-type": "application/x-www-form-urlencoded"},
        claims=None,
    )


def test_an_owner_asks_for_a_tax_invoice_and_staff_issue_it(paid):
    bill, payment = paid
    token = pay_token(bill)
    asked = _ask_invoice(token, payment["payment_id"], "上海某某科技有限公司", "91310000MA1FL0AB2C")
    assert asked["statusCode"] == 303 and asked["headers"]["Location"].endswith("notice=invoice_requested")
    (waiting,) = json.loads(call("invoice_queue")["body"])["payments"]
    assert (waiting["payment_id"], waiting["invoice_title"], waiting["invoice_tax_id"]) == (
        payment["payment_id"],
        "上海某某科技有限公司",
        "91310000MA1FL0AB2C",
    )
    issued = call(
        "record_invoice", params={"payment_id": payment["payment_id"]}, body={"invoice_no": "3100 0042"}
    )
    assert issued["statusCode"] == 200 and json.loads(issued["body"])["invoice_state"] == "issued"
    assert json.loads(call("invoice_queue")["body"])["payments"] == []
    page = call("bill_page", params={"token": token}, query={"lang": "en"}, claims=None)["body"]
    assert "Tax invoice 3100 0042" in page
    again = _ask_invoice(token, payment["payment_id"], "Someone else")
    assert again["headers"]["Location"].endswith("notice=invoice_refused")


def test_a_bad_tax_number_or_another_unit_s_payment_asks_for_nothing(paid):
    bill, payment = paid
    bad = _ask_invoice(pay_token(bill), payment["payment_id"], "Anna Liu", "123")
    assert bad["headers"]["Location"].endswith("notice=invoice_refused")
    other = store_bill(make_bill("A-102", "2026-03", owner_id="O0002"))
    assert _ask_invoice(pay_token(other), payment["payment_id"], "Anna Liu")["statusCode"] == 404
    assert json.loads(call("invoice_queue")["body"])["payments"] == []
    nothing = call(
        "record_invoice", params={"payment_id": payment["payment_id"]}, body={"invoice_no": "3100 0043"}
    )
    assert nothing["statusCode"] == 409 and json.loads(nothing["body"])["error"] == "no_invoice_requested"


def test_the_receipt_message_links_to_the_pdf_through_the_owner_s_lasting_link(paid, aws):
    from urllib.parse import unquote

    from propdesk.messaging.templates import render
    from propdesk.settings import get_settings

    _, payment = paid
    sqs = boto3.client("sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=aws["MESSAGES_QUEUE_URL"], MaxNumberOfMessages=10).get(
        "Messages"
    ):
        found += [json.loads(m["Body"]) for m in batch]
    (receipt,) = [m for m in found if m["template"] == "payment_receipt"]
    url = receipt["context"]["receipt_url"]
    assert url.startswith("https://pay.example.test/pay/") and url.endswith(
        "/payments/desk%3Areq-receipt-01/receipt"
    )
    token = unquote(url.split("/pay/", 1)[1].split("/", 1)[0])
    opened = call("owner_receipt", params={"token": token, "payment_id": payment["payment_id"]}, claims=None)
    assert (
        opened["statusCode"] == 303
        and requests.get(opened["headers"]["Location"], timeout=10).content[:4] == b"%PDF"
    )
    text = render(
        "payment_receipt",
        locale="zh-CN",
        context=receipt["context"],
        recipient_name="吴娜",
        config=get_settings().property_config,
    ).text
    assert url in text and "发票" in text
