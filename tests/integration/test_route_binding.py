"""The route a request was authorized for is the route that runs: the resolver sees a path
rebuilt from that route and API Gateway's decoded path parameters, never the raw path alone."""

from __future__ import annotations

import json

import pytest

from api.handler import lambda_handler
from payment_webhook.handler import lambda_handler as webhook_handler
from propdesk import routes
from propdesk.web.access import Refused
from propdesk.web.http import with_canonical_path
from tests.paytools import checkout_event, event_body, pay_token, store_bill, webhook_request
from tests.route_events import LambdaContext, route_event


def test_access_22_a_raw_path_that_disagrees_with_the_authorized_route_does_not_pick_the_route(aws):
    # GIVEN an owner's valid link, in an event whose raw path names a staff route instead
    bill = store_bill()
    event = route_event("bill_page", params={"token": pay_token(bill)})
    event["rawPath"] = "/staff/bills"
    event["queryStringParameters"] = {"period": bill.period}
    # WHEN the api function handles it
    response = lambda_handler(event, LambdaContext())
    # THEN it answers with the owner's page (the route it authorized), not the period's bill list
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert '"bills"' not in response["body"]


def test_the_canonical_path_encodes_each_decoded_parameter_once():
    route = routes.route("get_payment")
    event = route_event("get_payment", params={"payment_id": "desk:a#b"}, roles=("admin",))
    event["rawPath"] = "/staff/payments/desk:a#b"  # as if delivered decoded
    assert with_canonical_path(event, route)["rawPath"] == "/staff/payments/desk%3Aa%23b"
    assert event["rawPath"] == "/staff/payments/desk:a#b"  # the caller's event is not changed
    without = {**event, "pathParameters": {}}
    with pytest.raises(Refused):
        with_canonical_path(without, route)


def test_a_payment_id_reaches_its_route_whichever_way_the_raw_path_came(aws):
    bill = store_bill()
    webhook_handler(
        webhook_request(event_body(checkout_event(bill, payment_intent="pi_x1"))), LambdaContext()
    )
    for raw in ("/staff/payments/stripe:pi_x1", "/staff/payments/stripe%3Api_x1"):
        event = route_event("get_payment", params={"payment_id": "stripe:pi_x1"}, roles=("cashier",))
        event["rawPath"] = raw
        response = lambda_handler(event, LambdaContext())
        assert response["statusCode"] == 200, response["body"]
        assert json.loads(response["body"])["payment_id"] == "stripe:pi_x1"
