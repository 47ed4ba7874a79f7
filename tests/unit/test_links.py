from datetime import UTC, datetime, timedelta

import pytest

from propdesk.payments.links import InvalidPayLink, link_key_from_secret, sign_pay_link, verify_pay_link

KEY = b"k" * 32
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def _token(**overrides) -> str:
    args = {
        "bill_id": "A-101#2026-12",
        "unit_id": "A-101",
        "expires_at": NOW + timedelta(days=60),
        "key": KEY,
    }
    args.update(overrides)
    return sign_pay_link(**args)


def test_a_signed_link_verifies_to_its_bill_and_unit():
    link = verify_pay_link(_token(), key=KEY, now=NOW)
    assert (link.bill_id, link.unit_id) == ("A-101#2026-12", "A-101")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "x" + t[1:],  # payload changed
        lambda t: t.replace(".", ""),  # no separator
        lambda t: t + ".extra",
        lambda t: "",
        lambda t: "a" * 600,
        lambda t: "ünï.cödé",
    ],
)
def test_an_altered_link_is_refused(mangle):
    with pytest.raises(InvalidPayLink):
        verify_pay_link(mangle(_token()), key=KEY, now=NOW)


def test_another_key_or_an_expired_link_is_refused():
    with pytest.raises(InvalidPayLink):
        verify_pay_link(_token(), key=b"z" * 32, now=NOW)
    with pytest.raises(InvalidPayLink):
        verify_pay_link(_token(expires_at=NOW), key=KEY, now=NOW)


def test_link_key_must_be_long_enough():
    assert link_key_from_secret({"key": "x" * 32}) == b"x" * 32
    with pytest.raises(ValueError, match="32"):
        link_key_from_secret({"key": "short"})
