"""The Stripe stand-in reads Stripe's form encoding: nested keys as the SDK sends them."""

import pytest

from infra.local.stripe.errors import StripeError
from infra.local.stripe.forms import decode_form
from tests.stripe_standin_tools import sdk_body, session_params


def test_form_decoding_reads_the_sdk_nested_keys():
    decoded = decode_form(sdk_body(session_params()))
    assert decoded["line_items"][1]["price_data"]["product_data"]["name"] == "Waste"
    assert decoded["line_items"][1]["quantity"] == "2"
    assert decoded["payment_method_types"] == ["card", "alipay"]
    assert decoded["metadata"] == {"bill_id": "A-101#2027-01", "property_id": "demo"}
    assert decoded["payment_intent_data"] == {"metadata": {"bill_id": "A-101#2027-01"}}


@pytest.mark.parametrize("body", ["a[]=1", "a=1&a[b]=2", "[a]=1"])
def test_malformed_keys_are_refused(body):
    with pytest.raises(StripeError):
        decode_form(body)


def test_array_indexes_keep_their_order():
    assert decode_form("a[10]=k&a[2]=c&a[0]=a") == {"a": ["a", "c", "k"]}
