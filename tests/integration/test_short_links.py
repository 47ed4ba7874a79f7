"""Short links of the SMS notice (issue 8, item 3) on moto: an unguessable code mapped to the pay
token and expiring with it, opened through GET /p/{code}; a wrong code is the expired-link answer,
and wrong codes are limited per client address."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from ops_support import bill_notice, import_demo_units

import messenger.handler as messenger_handler
from api.handler import lambda_handler
from propdesk.payments.links import PayLinks, expiry_of, token_of
from propdesk.services.short_links import (
    ALPHABET,
    CODE_LENGTH,
    CODE_PATTERN,
    MAX_MISSES,
    ShortLinks,
    new_code,
)
from propdesk.store.links import LinkRepository
from propdesk.store.models import LinkItem
from tests.paytools import make_bill, pay_token, store_bill
from tests.route_events import LambdaContext, route_event
from tests.testkeys import TEST_LINK_KEY

BASE = "https://pay.example.test"
NOON = datetime.now(UTC).replace(second=5, microsecond=0)  # the links made here last 30 days


def links() -> PayLinks:
    return PayLinks(ttl=timedelta(days=30), key=TEST_LINK_KEY.encode(), base_url=BASE)


def call(key: str, *, ip: str = "203.0.113.7", **kwargs) -> dict:
    event = route_event(key, **kwargs)
    event["requestContext"]["http"]["sourceIp"] = ip
    return lambda_handler(event, LambdaContext())


def open_code(code: str, ip: str = "203.0.113.7") -> dict:
    return call("short_link", params={"code": code}, ip=ip)


@pytest.fixture
def bill(aws, demo_config):
    import_demo_units(demo_config, 3)
    return store_bill(make_bill("A-101", "2026-12", owner_id="O0001"))


def test_a_code_has_at_least_60_random_bits_and_no_two_are_alike():
    assert CODE_LENGTH * math.log2(len(ALPHABET)) >= 60 and len(ALPHABET) == 62
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000 and all(CODE_PATTERN.match(code) for code in codes)
    # every position draws from the whole alphabet (not a counter, not a derivation)
    assert all(len({code[i] for code in codes}) > 50 for i in range(CODE_LENGTH))


def test_a_short_link_leads_to_its_pay_link_and_expires_with_it(bill):
    # GIVEN the bill's pay link, shortened
    page_url = links().page_url(pay_token(bill))
    short = ShortLinks().shorten(page_url)
    # THEN it is <base>/p/<code>, stored with the token and a TTL at the token's expiry
    assert short.startswith(f"{BASE}/p/") and len(short) == len(BASE) + 3 + CODE_LENGTH
    code = short.rsplit("/", 1)[1]
    item = LinkItem.get(f"code#{code}")
    assert item.token == token_of(page_url) and item.expires == expiry_of(item.token)
    # WHEN it is opened
    response = open_code(code)
    # THEN it redirects to the pay page, which opens
    assert response["statusCode"] == 303
    location = response["headers"]["Location"]
    assert location == f"{BASE}/pay/{page_url.rsplit('/', 1)[1]}"
    page = call("bill_page", params={"token": token_of(location)})
    assert page["statusCode"] == 200 and "A-101" in page["body"]
    # and once the token's time is up, the code is gone with it (before the TTL sweep too)
    after = expiry_of(item.token) + timedelta(seconds=1)
    assert LinkRepository().token(code, now=after) is None
    assert ShortLinks().open(code, client="198.51.100.1", now=after).token is None


def test_a_wrong_or_expired_code_is_answered_exactly_as_an_expired_pay_link(bill):
    # GIVEN an expired pay link, and a short link made for it
    expired = pay_token(bill, expires_in=timedelta(days=-1))
    code = ShortLinks().shorten(links().page_url(expired)).rsplit("/", 1)[1]
    # WHEN the expired pay link, its short link and a wrong code are opened
    answers = [
        call("bill_page", params={"token": expired}),
        open_code(code, ip="198.51.100.2"),
        open_code("AAAAAAAAAAA", ip="198.51.100.3"),
        open_code("not-even-a-code", ip="198.51.100.4"),
    ]
    # THEN the answers are the same: status, headers and page, byte for byte
    first = answers[0]
    assert first["statusCode"] == 404
    for answer in answers[1:]:
        assert answer["statusCode"] == first["statusCode"]
        assert answer["headers"] == first["headers"]
        assert answer["body"] == first["body"]
        assert answer.get("multiValueHeaders") == first.get("multiValueHeaders")
        assert "A-101" not in answer["body"]


def test_wrong_codes_are_limited_per_client_address_per_minute(bill):
    shortener = ShortLinks()
    good = shortener.shorten(links().page_url(pay_token(bill))).rsplit("/", 1)[1]
    # GIVEN MAX_MISSES wrong codes from one address within a minute
    for n in range(MAX_MISSES):
        opened = shortener.open(f"wrongcode{n:02d}", client="192.0.2.1", now=NOON + timedelta(seconds=n))
        assert opened.token is None and opened.retry_after is None
    # WHEN it tries again, even with a right code
    refused = shortener.open(good, client="192.0.2.1", now=NOON + timedelta(seconds=20))
    # THEN it is told to wait until the minute is over, and learns nothing about the code
    assert refused.token is None and refused.retry_after == 35
    # while another address is not held back
    assert shortener.open(good, client="192.0.2.2", now=NOON + timedelta(seconds=20)).token is not None
    # and the next minute the first address may try again
    assert shortener.open(good, client="192.0.2.1", now=NOON + timedelta(minutes=1)).token is not None
    # a right code is not a miss: it never counts against an address
    for n in range(MAX_MISSES + 2):
        assert shortener.open(good, client="192.0.2.3", now=NOON + timedelta(seconds=n)).token is not None


def test_over_the_limit_the_route_answers_429_with_retry_after(bill):
    # GIVEN wrong codes from one address until it is held back (the minute may turn over once)
    answers = [open_code(f"wrongcode{n:02d}", ip="192.0.2.9") for n in range(2 * MAX_MISSES + 1)]
    statuses = [answer["statusCode"] for answer in answers]
    # THEN the first wrong codes get the expired-link page, then 429 with a Retry-After of a minute at most
    assert statuses[:MAX_MISSES] == [404] * MAX_MISSES and 429 in statuses
    limited = answers[statuses.index(429)]
    assert 1 <= int(limited["headers"]["Retry-After"]) <= 60
    assert limited["headers"]["Content-Type"].startswith("text/html")
    # and another address still gets through
    good = ShortLinks().shorten(links().page_url(pay_token(bill))).rsplit("/", 1)[1]
    assert open_code(good, ip="192.0.2.10")["statusCode"] == 303


def test_a_short_link_is_made_for_an_sms_only_never_for_an_email_alone(bill, daytime):
    messenger_handler.messenger.cache_clear()
    try:
        messenger = messenger_handler.messenger()
        # WHEN a notice goes by e-mail only
        messenger.deliver(bill_notice("O0001", "A-101").model_copy(update={"channels": ("email",)}))
        # THEN no short link is made
        assert [item.key for item in LinkItem.scan()] == []
        # WHEN a notice goes by SMS
        messenger.deliver(
            bill_notice("O0003", "A-103", period="2026-08").model_copy(update={"channels": ("sms",)})
        )
        # THEN exactly one is
        assert [item.key[:5] for item in LinkItem.scan()] == ["code#"]
    finally:
        messenger_handler.messenger.cache_clear()


def test_a_taken_code_is_drawn_again_with_one_conditional_put_each(bill):
    # GIVEN a code generator that first repeats a code already stored
    page_url = links().page_url(pay_token(bill))
    codes = iter(["Taken000000", "Taken000000", "Fresh000000"])
    shortener = ShortLinks(new_code=lambda: next(codes))
    first = shortener.shorten(page_url)
    # WHEN it draws the taken code again
    second = shortener.shorten(page_url)
    # THEN the stored link is left as it was and a new code is used
    assert first.endswith("/p/Taken000000") and second.endswith("/p/Fresh000000")
    assert LinkItem.get("code#Taken000000").token == token_of(page_url)


def test_a_url_that_is_not_a_pay_link_we_signed_is_sent_as_it_is(aws):
    for url in ("https://pay.example.test/pay/t", "https://pay.example.test/account"):
        assert ShortLinks().shorten(url) == url
    assert list(LinkItem.scan()) == []
