"""The printable A4 notice (F2, issue 8 item 3) on moto: made once in the documents bucket from
the issued bill, reached through the owner's link, Chinese set in the CID font."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from urllib.parse import quote

import boto3
import pypdfium2
import pytest
import requests
from ops_support import import_demo_units

from api.handler import lambda_handler
from propdesk.store import ledger
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event


def call(key: str, **kwargs) -> dict:
    return lambda_handler(route_event(key, **kwargs), LambdaContext())


def pdf_text(pdf: bytes) -> tuple[int, str]:
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    return len(document), "".join(page.get_textpage().get_text_range() for page in document)


def stored(env) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=env["DOCUMENTS_BUCKET"], Prefix="notices/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture
def bill(aws, demo_config):
    import_demo_units(demo_config, 3)
    bill = store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))
    # the account's credit paid part of it when it was issued
    ledger.append(
        ledger.bill_entity(bill.bill_id),
        "paid",
        at=datetime.now(UTC),
        key="paid#credit",
        data={"amount_minor": 5000, "bill_id": bill.bill_id},
    )
    return bill


def open_notice(bill, token: str, lang: str | None = None) -> dict:
    return call(
        "owner_bill_notice",
        params={"token": token, "bill_id": bill.bill_id},
        query={"lang": lang} if lang else None,
    )


def test_the_owner_opens_the_notice_pdf_in_chinese_made_once(bill, aws):
    # WHEN the owner opens the notice from the link in the e-mail
    response = open_notice(bill, pay_token(bill))
    # THEN it redirects to a short-lived link to an A4 PDF of one page
    assert response["statusCode"] == 303
    pdf = requests.get(response["headers"]["Location"], timeout=10).content
    assert pdf.startswith(b"%PDF")
    pages, text = pdf_text(pdf)
    assert pages == 1
    document = pypdfium2.PdfDocument(io.BytesIO(pdf))
    width, height = document[0].get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    # and the Chinese is extractable: the header, the unit, the period, the lines, the sums, the ways to pay
    for expected in (
        "锦绣花园",
        "物业费缴费通知书",
        "上海锦绣物业服务有限公司",
        "A-101",
        "2026年12月",
        "物业服务费",
        "¥250.24",
        f"¥{bill.total_minor // 100}.{bill.total_minor % 100:02d}",
        "预存款抵扣",
        "-¥50.00",
        "前台缴费",
        "1001 2345 6789 0123 456",
        bill.fee_standard_version,
        f"/standards/{bill.fee_standard_version}?lang=zh-CN",
    ):
        assert expected in text, expected
    owed = bill.total_minor - 5000
    assert f"¥{owed // 100}.{owed % 100:02d}" in text
    # and it was stored once, under its bill's key
    assert stored(aws) == ["notices/demo/2026-12/A-101.zh-CN.pdf"]


def test_asking_again_serves_the_stored_file(bill, aws):
    open_notice(bill, pay_token(bill))
    # GIVEN the stored file (replaced here, to tell it from a fresh one)
    key = "notices/demo/2026-12/A-101.zh-CN.pdf"
    boto3.client("s3").put_object(Bucket=aws["DOCUMENTS_BUCKET"], Key=key, Body=b"%PDF-the-stored-one")
    # WHEN the owner asks again
    again = open_notice(bill, pay_token(bill))
    # THEN that file is served, not a new one
    assert requests.get(again["headers"]["Location"], timeout=10).content == b"%PDF-the-stored-one"
    assert stored(aws) == [key]


def test_the_notice_in_english(bill, aws):
    response = open_notice(bill, pay_token(bill), lang="en")
    _pages, text = pdf_text(requests.get(response["headers"]["Location"], timeout=10).content)
    assert "Property Fee Notice" in text and "Jinxiu Garden" in text and "Property service fee" in text
    assert "物业" not in text.replace("上海锦绣物业服务有限公司", "")  # the bank account's holder only
    assert stored(aws) == ["notices/demo/2026-12/A-101.en.pdf"]


def test_a_bill_of_another_unit_is_the_not_found_page(bill, aws):
    other = store_bill(make_bill("A-102", "2026-12", owner_id="O0002"))
    # WHEN A-102's link asks for A-101's notice
    response = open_notice(bill, pay_token(other))
    # THEN it is the one not-found page, the same as for a bill that does not exist, and nothing is made
    missing = call("owner_bill_notice", params={"token": pay_token(other), "bill_id": "A-102#2031-01"})
    assert response["statusCode"] == 404 == missing["statusCode"] and response["body"] == missing["body"]
    assert "A-101" not in response["body"]
    assert stored(aws) == []


def test_the_notice_link_in_the_email_is_the_route(bill, demo_config):
    from propdesk.payments.links import bill_notice_url

    url = bill_notice_url(f"https://pay.example.test/pay/{quote(pay_token(bill), safe='')}", bill.bill_id)
    assert url.endswith(f"/bills/{quote(bill.bill_id, safe='')}/notice") and "%23" in url
