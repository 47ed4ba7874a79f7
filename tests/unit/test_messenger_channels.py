"""Channel choice: requested channels the recipient can receive, fallback, reason recorded."""

from __future__ import annotations

import pytest

from propdesk.messaging.channels import choose_channels
from propdesk.services.messenger import Pacer


@pytest.mark.parametrize(
    ("requested", "email", "phone", "consent", "channels", "note_part"),
    [
        (("email", "sms"), True, True, True, ("email", "sms"), None),
        (("email", "sms"), True, True, False, ("email",), "sms skipped: no SMS consent"),
        (("email", "sms"), True, False, True, ("email",), "sms skipped: no phone number"),
        (("email", "sms"), False, True, True, ("sms",), "email skipped: no email address"),
        (("sms",), True, False, False, ("email",), "fallback to email"),
        (("email",), False, True, True, ("sms",), "fallback to sms"),
        (("email",), False, True, False, (), "undeliverable"),
        (("email", "sms"), False, False, True, (), "undeliverable"),
    ],
)
def test_channel_choice(requested, email, phone, consent, channels, note_part):
    delivery = choose_channels(requested, has_email=email, has_phone=phone, sms_consent=consent)
    assert delivery.channels == channels
    if note_part is None:
        assert delivery.note is None
    else:
        assert note_part in delivery.note


def test_pacer_spaces_sends_per_channel():
    # GIVEN a rate of 4 per second and a clock that only moves when the pacer sleeps
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    # WHEN three emails and one SMS go out back to back
    for channel in ("email", "email", "sms", "email"):
        pacer.wait(channel)
    # THEN emails are 0.25 s apart and the SMS did not wait for the emails
    assert slept == [0.25, 0.25]
    assert now[0] == pytest.approx(100.5)


def test_a_marked_address_gives_way_to_sms_and_a_marked_number_to_email():
    # GIVEN an owner with both contacts, the address bounced
    delivery = choose_channels(
        ("email",), has_email=True, has_phone=True, sms_consent=True, email_marked="bounced"
    )
    # THEN the message falls back to SMS, saying why
    assert delivery.channels == ("sms",)
    assert delivery.note == "email skipped: address marked bounced; fallback to sms"
    delivery = choose_channels(
        ("email", "sms"), has_email=True, has_phone=True, sms_consent=True, phone_marked="sms_failed"
    )
    assert delivery.channels == ("email",) and delivery.note == "sms skipped: number marked sms_failed"
    both = choose_channels(
        ("email", "sms"),
        has_email=True,
        has_phone=True,
        sms_consent=True,
        email_marked="complained",
        phone_marked="sms_failed",
    )
    assert both.channels == () and "undeliverable" in (both.note or "")


def test_an_owner_whose_only_channel_is_marked_goes_on_the_call_list():
    from datetime import UTC, datetime

    from propdesk.domain.units import ContactMark, Owner
    from propdesk.services.calls import reachable

    owner = Owner("O1", "周先生", None, "a@example.com", "zh-CN", sms_consent=False)
    assert reachable(owner)
    marked = Owner(
        "O1", "周先生", None, "a@example.com", "zh-CN", sms_consent=False,
        email_mark=ContactMark("bounced", datetime(2026, 12, 2, tzinfo=UTC)),
    )  # fmt: skip
    assert not reachable(marked)
