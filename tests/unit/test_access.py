"""The route table and the one authorization step every HTTP function runs before its routes."""

from datetime import UTC, datetime, timedelta

import pytest

from propdesk import routes
from propdesk.auth import NotAuthenticated, claims_of, roles_of
from propdesk.payments.links import InvalidPayLink, PayLink
from propdesk.web.access import Access, Anyone, InvalidSignature, LinkHolder, Provider, Refused, StaffUser
from tests.route_events import route_event

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
JSON = "application/json"
LINK = PayLink(bill_id="A-101#2027-01", unit_id="A-101", expires_at=NOW + timedelta(days=1))


def _links(token: str, now: datetime) -> PayLink:
    if token != "good.token":
        raise InvalidPayLink
    return LINK


def _stripe(body: bytes, headers) -> dict:
    if headers.get("stripe-signature") != "ok":
        raise InvalidSignature
    return {"id": "evt_1", "body": body.decode()}


API = Access(function="api", links=_links, now=lambda: NOW)
WEBHOOK = Access(function="payment_webhook", providers={"stripe": _stripe})


def _refusal(access: Access, event) -> Refused:
    with pytest.raises(Refused) as caught:
        access.check(event)
    return caught.value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[admin cashier]", {"admin", "cashier"}),
        ("[admin, dept-cleaning]", {"admin", "dept-cleaning"}),
        (["agent"], {"agent"}),
        ("[]", set()),
        (None, set()),
    ],
)
def test_groups_claim_is_read_in_api_gateway_and_list_forms(raw, expected):
    claims = {} if raw is None else {"cognito:groups": raw}
    assert roles_of(claims) == expected


def test_missing_claims_are_not_authenticated():
    with pytest.raises(NotAuthenticated):
        claims_of({"requestContext": {}})


def test_staff_routes_need_claims_then_one_of_the_routes_roles():
    # GIVEN the summary route (admin, cashier)
    # WHEN no claims reach the function (the authorizer was bypassed): 401
    assert _refusal(API, route_event("period_summary", query="period=2027-01")).status == 401
    # WHEN an agent calls it: 403
    refused = _refusal(API, route_event("period_summary", query="period=2027-01", roles=("agent",)))
    assert (refused.kind, refused.status) == ("forbidden", 403)
    # WHEN a cashier calls it: the caller is that staff user
    route, caller = API.check(
        route_event("period_summary", query="period=2027-01", roles=("agent", "cashier"))
    )
    assert route.key == "period_summary"
    assert caller == StaffUser(sub="staff-1", roles=frozenset({"agent", "cashier"}))


def test_an_owner_link_route_opens_only_with_a_link_that_verifies():
    _route, caller = API.check(route_event("bill_page", params={"token": "good.token"}))
    assert caller == LinkHolder(token="good.token", link=LINK)
    refused = _refusal(API, route_event("bill_page", params={"token": "bad.token"}))
    assert (refused.kind, refused.status) == ("bad_link", 404)
    # staff claims are no substitute for the link
    refused = _refusal(API, route_event("start_checkout", params={"token": "x.y"}, roles=("admin",)))
    assert refused.status == 404


def test_a_provider_route_opens_only_with_the_providers_signature():
    _route, caller = WEBHOOK.check(
        route_event("stripe_webhook", body="{}", headers={"stripe-signature": "ok", "content-type": JSON})
    )
    assert caller == Provider("stripe", {"id": "evt_1", "body": "{}"})
    refused = _refusal(
        WEBHOOK,
        route_event("stripe_webhook", body="{}", headers={"stripe-signature": "no", "content-type": JSON}),
    )
    assert (refused.kind, refused.status) == ("bad_signature", 400)


def test_a_route_of_another_function_or_no_route_at_all_is_404():
    assert _refusal(WEBHOOK, route_event("bill_page", params={"token": "good.token"})).kind == "no_route"
    event = route_event("list_bills", roles=("admin",))
    event["routeKey"] = "GET /staff/secrets"
    assert _refusal(API, event).status == 404


def test_the_body_limit_is_checked_after_the_caller():
    big = "x" * (routes.route("create_ticket").max_body_bytes + 1)
    # an anonymous caller learns nothing, not even the limit
    assert _refusal(API, route_event("create_ticket", body=big)).status == 401
    refused = _refusal(API, route_event("create_ticket", body=big, roles=("agent",)))
    assert (refused.status, refused.limit) == (413, routes.route("create_ticket").max_body_bytes)
    # the CSV import takes far more
    csv = route_event("import_units", body=big, roles=("admin",), headers={"content-type": "text/csv"})
    _route, caller = API.check(csv)
    assert isinstance(caller, StaffUser)


def test_a_public_route_lets_anyone_in():
    table = (
        routes.Route(
            key="fee_standard_page",
            method="GET",
            path="/fees",
            function="api",
            audience=routes.Public(),
            summary="s",
            tag="t",
        ),
    )
    original = routes._BY_ROUTE_KEY
    routes._BY_ROUTE_KEY = {route.route_key: route for route in table}
    try:
        event = route_event("list_bills")
        event["routeKey"] = "GET /fees"
        assert API.check(event)[1] == Anyone()
    finally:
        routes._BY_ROUTE_KEY = original


def test_a_route_must_say_who_may_call_it():
    with pytest.raises(TypeError, match="declare who may call it"):
        routes.Route(key="k", method="GET", path="/x", function="api", audience=None, summary="s", tag="t")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="roles"):
        routes.Staff(())
    with pytest.raises(ValueError, match="unknown staff roles"):
        routes.Staff(("root",))
    assert routes.Staff(("dept-cleaning",)).roles == ("dept-cleaning",)


def test_route_keys_and_methods_with_paths_are_unique_and_rules_use_the_resolvers_syntax():
    assert len({r.key for r in routes.ROUTES}) == len(routes.ROUTES)
    assert len({r.route_key for r in routes.ROUTES}) == len(routes.ROUTES)
    route = routes.route("get_unit_bill")
    assert (route.rule, route.path_parameters) == (
        "/staff/units/<unit_id>/bills/<period>",
        ("unit_id", "period"),
    )
    assert routes.find("GET /staff/units/{unit_id}/bills/{period}") is route
    assert routes.find("GET /staff/units/A-101/bills/2026-03") is None
