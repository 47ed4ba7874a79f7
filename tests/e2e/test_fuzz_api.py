"""Fuzzing every route from the OpenAPI document (RELIABILITY 23), on the local runtime.

schemathesis generates requests from the document (valid and invalid ones) and checks each
answer: never a 5xx, and always a status, content type, headers and body the document declares.
``make test`` runs a bounded number of examples per route; ``make fuzz`` many more
(``PROPDESK_FUZZ_EXAMPLES``). Staff routes are called as an admin (who may call them all; the
authorization matrix covers the other roles), with the token schemathesis adds; owner pages with a valid link to a stored bill;
the webhook with the body signed as Stripe signs it. Invalid cases may leave out the
staff token on purpose (schemathesis holds it), and expect a refusal.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from infra.local import openapi
from infra.local.stripe import sign_payload
from propdesk import routes
from propdesk.payments.links import sign_pay_link
from propdesk.web.http import STAFF_SECURITY_SCHEME
from tests.paytools import make_bill, store_bill

# One worker runs this module, with the one runtime its fixture starts.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_fuzz_api")]

EXAMPLES = int(os.environ.get("PROPDESK_FUZZ_EXAMPLES", "12"))
OWN_UNIT = "A-101"


@pytest.fixture(scope="module")
def fuzz_target(small_runtime, request):
    bill = store_bill(make_bill(OWN_UNIT, "2027-01", owner_id="O0001"))
    link = sign_pay_link(
        bill_id=bill.bill_id,
        unit_id=bill.unit_id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        key=small_runtime.secrets.link_key.encode("utf-8"),
    )
    target = {
        "runtime": small_runtime,
        "admin": small_runtime.mint_token(["admin"], sub="fuzzer", ttl_s=7 * 24 * 3600),
        "link": link,
        "webhook_secret": small_runtime.secrets.stripe_webhook_secret,
        "calls": {},
    }
    yield target
    # How many examples ran (the note of a change that touches the API quotes it).
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        total = sum(target["calls"].values())
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nfuzzing: {total} requests over {len(target['calls'])} operations")


# An answer that refuses invalid input: 413 (a body over the route's limit) too.
REJECTIONS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]


@pytest.fixture(scope="module")
def api_schema(fuzz_target):
    config = SchemathesisConfig.from_dict(
        {
            # schemathesis signs staff requests itself (as an admin), so its invalid cases may
            # leave the token out on purpose (and expect the 401).
            "auth": {"openapi": {STAFF_SECURITY_SCHEME: {"bearer": fuzz_target["admin"]}}},
            "checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}},
        }
    )
    return schemathesis.openapi.from_dict(openapi.document(fuzz_target["runtime"].base_url), config=config)


def _operation(api_schema, label: str):
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.label == label:
            return operation
    raise AssertionError(f"{label} is not in the OpenAPI document")


STANDARD_BODIES = {routes.route("create_standard").path, routes.route("replace_standard").path}


def _send(case, fuzz_target, mode) -> None:
    """Call the runtime as the route's legitimate caller would, then check the answer against the
    document (schemathesis's checks: no 5xx; status, content type, headers and body as declared)."""
    audience = case.operation.definition.raw.get("x-propdesk-audience", {}).get("kind")
    headers: dict[str, str] = {}
    if audience == "owner_link" and case.path_parameters is not None and mode is GenerationMode.POSITIVE:
        # Valid requests open the stored bill; invalid ones keep the token they were given.
        case.path_parameters["token"] = fuzz_target["link"]
    fuzz_target["calls"][case.operation.label] = fuzz_target["calls"].get(case.operation.label, 0) + 1
    signed_by_stripe = case.operation.path == routes.route("stripe_webhook").path
    if not signed_by_stripe:
        excluded = []
        if case.operation.definition.raw.get("requestBody", {}).get("content", {}).get("text/csv"):
            # A CSV body's schema is "a string": whether its lines are valid units is for the import
            # to say (400 with each bad line), which the document declares.
            excluded.append(positive_data_acceptance)
        if case.operation.path in STANDARD_BODIES:
            # A fee standard's cost shares must add up to exactly 100 % and its item codes be unique:
            # rules JSON Schema cannot state, so a schema-valid body may be refused (422, declared);
            # the negative mode and every answer's schema are still checked.
            excluded.append(positive_data_acceptance)
        if audience == "provider_signature":
            # WeChat Pay and Alipay sign with keys only they hold (and WeChat Pay encrypts the
            # resource): no generated body is theirs, so each must get the provider's failure answer
            # as documented; their signed deliveries are the rails' own tests.
            excluded.append(positive_data_acceptance)
        if case.operation.path == routes.route("alipay_notify").path:
            # Alipay reads only the body of a 200: its protocol answers a refusal "fail" with 200
            # (the document says so; the authorization matrix checks the text).
            excluded.append(negative_data_rejection)
        case.call_and_validate(
            base_url=fuzz_target["runtime"].base_url, headers=headers, excluded_checks=excluded
        )
        return
    # Signed over the exact bytes sent, as Stripe does: the function must still cope with the body.
    kwargs = case.as_transport_kwargs(base_url=fuzz_target["runtime"].base_url, headers=headers)
    body = kwargs.pop("data", None) or kwargs.pop("content", None)
    if "json" in kwargs:
        body = json.dumps(kwargs.pop("json")).encode("utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = body or b""
    signature = sign_payload(body, fuzz_target["webhook_secret"])  # the exact bytes sent
    kwargs["headers"] = {**kwargs.get("headers", {}), "Stripe-Signature": signature}
    response = requests.request(**kwargs, data=body, timeout=60)
    case.validate_response(response)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("label", [f"{r.method} {r.path}" for r in routes.ROUTES])
def test_access_23_no_route_answers_a_5xx_or_outside_its_documented_schema(
    api_schema, fuzz_target, label, mode
):
    operation = _operation(api_schema, label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def examples(case) -> None:
        _send(case, fuzz_target, mode)

    examples()
    assert fuzz_target["calls"].get(label, 0) > 0
