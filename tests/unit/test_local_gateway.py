"""The local gateway: API Gateway HTTP API (payload 2.0) events, responses, and the JWT check."""

import base64
import json
import time

import jwt
import pytest

from infra.local.gateway import (
    Gateway,
    Request,
    Response,
    bindings,
    build_event,
    compile_path,
    match,
    to_http,
)
from infra.local.jwt_authorizer import TokenIssuer, Unauthorized, gateway_claims
from propdesk.auth import roles_of

ISSUER = TokenIssuer.generate(issuer="http://127.0.0.1:8000/_local/cognito", audience="propdesk-demo-local")


def _binding(method, path):
    found = match(bindings(), method, path)
    assert found is not None, (method, path)
    return found


def test_every_route_of_the_route_table_is_served_with_its_path_parameters():
    from propdesk.routes import ROUTES

    for route in ROUTES:
        concrete = route.path.replace("{", "x").replace("}", "")
        binding, params = _binding(route.method, concrete)
        assert binding.function == route.function
        assert binding.route_key == f"{route.method} {route.path}"
        assert set(params) == set(compile_path(route.path).groupindex)


def test_unknown_paths_and_methods_match_nothing():
    table = bindings()
    assert match(table, "GET", "/nowhere") is None
    assert match(table, "DELETE", "/pay/abc") is None
    assert match(table, "GET", "/pay/abc/extra/more") is None


def test_event_has_the_payload_2_0_shape():
    # GIVEN a POST with a query, cookies, repeated headers and a JSON body
    binding, params = _binding("POST", "/pay/tok.en/checkout")
    request = Request(
        method="POST",
        target="/pay/tok.en/checkout?lang=en&x=1&x=2",
        headers=[
            ("Content-Type", "application/json"),
            ("Cookie", "a=1; b=2"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Forwarded-For", "10.0.0.2"),
            ("User-Agent", "test-agent"),
        ],
        body=b'{"k": "v"}',
        source_ip="127.0.0.9",
        host="127.0.0.1:8000",
    )
    # WHEN it becomes an event
    event = build_event(request, binding, params)
    # THEN it carries what API Gateway sends
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /pay/{token}/checkout"
    assert event["rawPath"] == "/pay/tok.en/checkout"
    assert event["rawQueryString"] == "lang=en&x=1&x=2"
    assert event["queryStringParameters"] == {"lang": "en", "x": "1,2"}
    assert event["pathParameters"] == {"token": "tok.en"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-forwarded-for"] == "10.0.0.1,10.0.0.2"
    http = event["requestContext"]["http"]
    assert http == {
        "method": "POST",
        "path": "/pay/tok.en/checkout",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.9",
        "userAgent": "test-agent",
    }
    assert event["requestContext"]["requestId"]
    assert event["requestContext"]["routeKey"] == "POST /pay/{token}/checkout"
    assert event["body"] == '{"k": "v"}'
    assert event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]


def test_binary_bodies_are_base64_encoded_and_empty_ones_left_out():
    binding, params = _binding("POST", "/webhooks/stripe")
    raw = bytes(range(256))
    event = build_event(
        Request("POST", "/webhooks/stripe", [("Content-Type", "application/octet-stream")], raw),
        binding,
        params,
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    get_binding, get_params = _binding("GET", "/pay/abc")
    event = build_event(Request("GET", "/pay/abc", []), get_binding, get_params)
    assert "body" not in event
    assert "queryStringParameters" not in event


def test_results_become_responses_like_api_gateway_returns_them():
    response = to_http(
        {
            "statusCode": 303,
            "headers": {"Location": "https://example.test/x"},
            "cookies": ["s=1; Path=/", "t=2"],
            "body": "",
        }
    )
    assert response.status == 303
    assert response.header("location") == "https://example.test/x"
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["s=1; Path=/", "t=2"]
    binary = to_http({"statusCode": 200, "body": base64.b64encode(b"%PDF").decode(), "isBase64Encoded": True})
    assert binary.body == b"%PDF"
    # a bare result is 200 JSON
    bare = to_http({"ok": True})
    assert (bare.status, json.loads(bare.body), bare.header("content-type")) == (
        200,
        {"ok": True},
        "application/json",
    )


def _gateway(calls):
    def invoke(name, event):
        calls.append((name, event))
        return {"statusCode": 200, "body": "{}"}

    return Gateway(bindings=bindings(), invoke=invoke, authorizer=ISSUER)


def test_staff_routes_need_a_valid_token_and_pass_claims_as_api_gateway_does():
    calls = []
    gateway = _gateway(calls)
    # WHEN no token, a malformed one, or one signed by another key
    other = TokenIssuer.generate(issuer=ISSUER.issuer, audience=ISSUER.audience)
    for headers in (
        [],
        [("Authorization", "Bearer not-a-jwt")],
        [("Authorization", "Basic abc")],
        [("Authorization", "Bearer " + other.mint(roles=["admin"]))],
    ):
        response = gateway.handle(Request("GET", "/staff/summary?period=2027-01", headers))
        # THEN 401 from the gateway, and the function never runs
        assert response.status == 401
        assert json.loads(response.body) == {"message": "Unauthorized"}
    assert calls == []
    # WHEN a valid cashier token
    token = ISSUER.mint(roles=["cashier", "agent"], sub="staff-7")
    response = gateway.handle(
        Request("GET", "/staff/summary?period=2027-01", [("Authorization", f"Bearer {token}")])
    )
    # THEN the function gets the claims the product reads its roles from
    assert response.status == 200
    ((name, event),) = calls
    assert name == "api"
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["cognito:groups"] == "[cashier agent]"
    assert claims["sub"] == "staff-7"
    assert all(isinstance(v, str) for v in claims.values())
    assert roles_of(claims) == {"cashier", "agent"}


def test_owner_and_webhook_routes_pass_without_a_jwt_and_unknown_routes_are_404():
    calls = []
    gateway = _gateway(calls)
    assert gateway.handle(Request("GET", "/pay/abc", [])).status == 200
    assert gateway.handle(Request("POST", "/webhooks/stripe", [], b"{}")).status == 200
    assert [name for name, _ in calls] == ["api", "payment_webhook"]
    missing = gateway.handle(Request("GET", "/nope", []))
    assert (missing.status, json.loads(missing.body)) == (404, {"message": "Not Found"})


def test_a_failing_function_is_a_500_without_details():
    def invoke(name, event):
        raise RuntimeError("secret detail")

    gateway = Gateway(bindings=bindings(), invoke=invoke, authorizer=ISSUER)
    response = gateway.handle(Request("GET", "/pay/abc", []))
    assert response.status == 500
    assert b"secret detail" not in response.body


def test_local_routes_are_served_when_no_manifest_route_matches():
    gateway = _gateway([])
    gateway.route_local("GET", "/_local/ping", lambda request: Response.json(200, {"pong": True}))
    assert json.loads(gateway.handle(Request("GET", "/_local/ping", [])).body) == {"pong": True}


def test_tokens_are_checked_for_issuer_audience_and_expiry():
    good = ISSUER.mint(roles=["admin"])
    assert ISSUER.verify(f"Bearer {good}")["iss"] == ISSUER.issuer
    key = ISSUER.private_key
    now = int(time.time())
    base = {"sub": "s", "iat": now, "exp": now + 60, "iss": ISSUER.issuer, "aud": ISSUER.audience}
    for changes in ({"exp": now - 1}, {"iss": "https://elsewhere"}, {"aud": "another-client"}, {"sub": None}):
        claims = {k: v for k, v in {**base, **changes}.items() if v is not None}
        with pytest.raises(Unauthorized):
            ISSUER.verify("Bearer " + jwt.encode(claims, key, algorithm="RS256"))
    # an unsigned token ("alg": "none") is refused
    with pytest.raises(Unauthorized):
        ISSUER.verify("Bearer " + jwt.encode(base, None, algorithm="none"))
    # an HS256 token using the public key as the secret is refused
    with pytest.raises(Unauthorized):
        ISSUER.verify("Bearer " + jwt.encode(base, "x" * 32, algorithm="HS256"))


def test_claims_are_flattened_to_strings():
    assert gateway_claims(
        {"cognito:groups": ["admin", "dept-cleaning"], "exp": 5, "email_verified": True}
    ) == {
        "cognito:groups": "[admin dept-cleaning]",
        "exp": "5",
        "email_verified": "true",
    }
