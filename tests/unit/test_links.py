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
        lambda t: t.split(".")[0] + ".\U000e03607ú",  # a signature with non-ASCII characters (was a 500)
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


# --- PayLinks: the one place links are made ---------------------------------------------------


def _links(loads: list[str] | None = None):
    from propdesk.payments.links import PayLinks

    def key() -> bytes:
        if loads is not None:
            loads.append("key")
        return KEY

    return PayLinks(ttl=timedelta(days=60), key=key, base_url="https://pay.example.test/")


def _bill(issued_at=NOW):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Linked:
        bill_id: str = "A-101#2026-12"
        unit_id: str = "A-101"
        owner_id: str = "O0001"
        issued_at: datetime = NOW

    return Linked(issued_at=issued_at)


def test_a_link_points_at_the_owner_page_with_the_token_quoted():
    links = _links()
    url = links.url(_bill())
    token = url.removeprefix("https://pay.example.test/pay/")
    assert verify_pay_link(token, key=KEY, now=NOW).unit_id == "A-101"
    assert verify_pay_link(token, key=KEY, now=NOW).owner_id == "O0001"  # whose link it is
    assert links.page_url("a/b.c+d", "/return") == "https://pay.example.test/pay/a%2Fb.c%2Bd/return"


def test_a_link_lasts_its_ttl_from_the_bill_so_a_rerun_signs_the_same_link():
    links = _links()
    assert links.url(_bill()) == links.url(_bill())
    link = links.verify(links.token(_bill()), now=NOW)
    assert link.expires_at == NOW + timedelta(days=60)


def test_a_link_sent_again_near_its_expiry_is_renewed_from_now():
    links = _links()
    later = NOW + timedelta(days=55)  # 5 days left: less than the week a reminder promises
    renewed = links.verify(links.token(_bill(), now=later), now=later)
    assert renewed.expires_at == later + timedelta(days=60)
    early = NOW + timedelta(days=10)  # 50 days left: the bill's own expiry stands
    assert links.verify(links.token(_bill(), now=early), now=early).expires_at == NOW + timedelta(days=60)


def test_a_rotated_key_is_used_as_soon_as_the_secret_gives_it():
    from propdesk.payments.links import PayLinks

    keys = [KEY]
    links = PayLinks(ttl=timedelta(days=60), key=lambda: keys[0], base_url="https://pay.example.test")
    old_token = links.token(_bill())
    keys[0] = b"n" * 32  # the secret was rotated (the secret cache hands out the new value)
    new_token = links.token(_bill())
    assert new_token != old_token
    assert links.verify(new_token, now=NOW).bill_id == "A-101#2026-12"
    with pytest.raises(InvalidPayLink):
        links.verify(old_token, now=NOW)
