"""The demo property's stack, synthesized once (offline, asset bundling skipped) and checked by property.

Expected values come from the manifest and the pynamodb models, never from the stack code, so a
wiring mistake in the stack shows up here.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import get_args

import pytest
from aws_cdk.assertions import Match, Template

from infra import manifest
from infra.app import build_app
from infra.constructs import monitoring
from infra.constructs.functions import ENV_LIMIT_BYTES, environment_size
from infra.stack import stack_name
from propdesk import naming
from propdesk.routes import Staff
from propdesk.settings import get_settings
from propdesk.store.models import TABLES

pytestmark = pytest.mark.xdist_group("infra")

WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    app, stack = build_app(
        "demo", context={"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path_factory.mktemp("cdk.out"))
    )
    assembly = app.synth()  # raises on any unacknowledged cdk-nag finding
    template = Template.from_stack(stack)
    return {
        "stack": stack,
        "template": template,
        "json": template.to_json(),
        "report": json.loads((Path(assembly.directory) / "validation-report.json").read_text()),
    }


@pytest.fixture(scope="module")
def template(synth) -> Template:
    return synth["template"]


@pytest.fixture(scope="module")
def resources(synth) -> dict:
    return synth["json"]["Resources"]


def of_type(resources: dict, type_: str) -> dict[str, dict]:
    return {lid: r for lid, r in resources.items() if r["Type"] == type_}


def function_ids(resources: dict) -> dict[str, str]:
    """Function name (manifest) -> logical id, found by handler."""
    by_handler = {
        r["Properties"]["Handler"]: lid for lid, r in of_type(resources, "AWS::Lambda::Function").items()
    }
    return {spec.name: by_handler[spec.handler] for spec in manifest.FUNCTIONS}


def table_ids(resources: dict) -> dict[str, str]:
    by_name = {
        r["Properties"]["TableName"]: lid for lid, r in of_type(resources, "AWS::DynamoDB::Table").items()
    }
    return {t.key: by_name[f"propdesk-demo-{t.key}"] for t in TABLES}


def statements_of(resources: dict, function_logical_id: str) -> list[dict]:
    """Every IAM statement attached to the function's execution role (its default policy, and the
    managed policies CDK moves statements to when the default one would be too large)."""
    role_ref = resources[function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    policies = {**of_type(resources, "AWS::IAM::Policy"), **of_type(resources, "AWS::IAM::ManagedPolicy")}
    for policy in policies.values():
        if {"Ref": role_ref} in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def referenced_ids(value) -> set[str]:
    """Logical ids a CloudFormation value points at (Ref / Fn::GetAtt), however deep."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            found |= referenced_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= referenced_ids(inner)
    return found


def function_env(resources: dict, name: str) -> dict:
    return resources[function_ids(resources)[name]]["Properties"]["Environment"]["Variables"]


# --- tables ---------------------------------------------------------------------------------------


def expected_keys(model) -> list[dict]:
    keys = [{"AttributeName": model._hash_keyname, "KeyType": "HASH"}]
    if model._range_keyname:
        keys.append({"AttributeName": model._range_keyname, "KeyType": "RANGE"})
    return keys


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.key)
def test_each_table_is_on_demand_recoverable_protected_and_keyed_like_its_model(template, resources, table):
    # GIVEN the table's pynamodb model
    model = table.model
    attributes = model.get_attributes()
    # THEN the table has the model's keys and types, and is protected
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": f"propdesk-demo-{table.key}",
            "KeySchema": expected_keys(model),
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
        },
    )
    resource = resources[table_ids(resources)[table.key]]
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"
    definitions = {
        a["AttributeName"]: a["AttributeType"] for a in resource["Properties"]["AttributeDefinitions"]
    }
    for key in expected_keys(model):
        assert definitions[key["AttributeName"]] == attributes[key["AttributeName"]].attr_type


def test_bills_table_has_the_models_indexes(resources):
    # GIVEN the bills model's global secondary indexes
    bills = next(t for t in TABLES if t.key == "bills").model
    expected = {}
    for name, index in bills._indexes.items():
        keys = {a.attr_name: ("HASH" if a.is_hash_key else "RANGE") for a in index.Meta.attributes.values()}
        expected[name] = sorted(keys.items())
    # WHEN reading the synthesized table
    resource = resources[table_ids(resources)["bills"]]["Properties"]
    actual = {
        gsi["IndexName"]: sorted((k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"])
        for gsi in resource["GlobalSecondaryIndexes"]
    }
    # THEN they are the same indexes, with the same keys, projecting keys only (the bills are
    # read back by key: a bill paid writes no index entry that keeps its key)
    assert actual == expected
    assert {"status-due-index", "period-index"} <= set(actual)
    assert all(
        gsi["Projection"]["ProjectionType"] == "KEYS_ONLY" for gsi in resource["GlobalSecondaryIndexes"]
    )


def test_ttl_only_where_the_model_says(resources):
    ids = table_ids(resources)
    for table in TABLES:
        ttl = resources[ids[table.key]]["Properties"].get("TimeToLiveSpecification")
        if table.ttl_attribute:
            assert ttl == {"AttributeName": table.ttl_attribute, "Enabled": True}
        else:
            assert ttl is None, table.key


# --- functions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=lambda s: s.name)
def test_each_function_matches_its_spec(template, resources, spec):
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": spec.handler,
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "MemorySize": spec.memory_mb,
            "Timeout": spec.timeout_s,
            "TracingConfig": {"Mode": "Active"},
        },
    )
    props = resources[function_ids(resources)[spec.name]]["Properties"]
    layers = [resources[layer["Ref"]]["Properties"] for layer in props["Layers"]]
    assert sorted(layer["Description"].split()[0] for layer in layers) == ["Third-party", "propdesk"]
    assert all(layer["CompatibleArchitectures"] == ["arm64"] for layer in layers)
    log_group = resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 90


def test_runtime_and_dependency_layer_agree_on_python_version():
    from infra.bundling import pip_install_command
    from infra.constructs.functions import PYTHON_VERSION, RUNTIME

    command = pip_install_command(Path("r.txt"), Path("out"), python_version=PYTHON_VERSION)
    assert RUNTIME.name == "python3.14"
    assert command[command.index("--python-version") + 1] == "3.14"


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=lambda s: s.name)
def test_environment_names_exactly_what_the_spec_uses(resources, spec):
    env = function_env(resources, spec.name)
    tables = {t.env_var for t in TABLES if t.key in spec.tables}
    queues = {naming.queue_env(q) for q in spec.sends_to}
    secrets = {naming.secret_env(k) for k in spec.secrets}
    wiring = set(env) - {
        "PROPERTY_CONFIG",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    }
    expected = tables | queues | secrets
    if spec.reads_public_url:
        expected.add(naming.PUBLIC_URL_PARAMETER_ENV)
        assert env[naming.PUBLIC_URL_PARAMETER_ENV] == naming.public_url_parameter_name("demo")
    if spec.documents:
        expected.add(naming.DOCUMENTS_BUCKET_ENV)
    if spec.mandates_key:
        expected.add(naming.MANDATES_KEY_ENV)
        assert env[naming.MANDATES_KEY_ENV] == naming.mandates_key_alias("demo")
    if spec.sends_email:
        expected.add(naming.SES_CONFIGURATION_SET_ENV)
        assert env[naming.SES_CONFIGURATION_SET_ENV] == naming.ses_configuration_set("demo")
    assert wiring == expected
    for key in spec.secrets:
        assert env[naming.secret_env(key)] == naming.secret_name("demo", key)
    assert env["POWERTOOLS_SERVICE_NAME"] == spec.name


def test_functions_read_the_deployed_property_config(synth, resources, demo_config, monkeypatch):
    # GIVEN the PROPERTY_CONFIG value the stack gives a function
    value = function_env(resources, "notices")["PROPERTY_CONFIG"]
    # WHEN the function's settings read it
    monkeypatch.setenv("PROPERTY_CONFIG", value)
    get_settings.cache_clear()
    try:
        settings = get_settings()
    finally:
        get_settings.cache_clear()
    # THEN it is the property's configuration
    assert settings.property_config == demo_config


def test_every_function_environment_fits_lambdas_limit(synth):
    for name, env in synth["stack"].functions.environments.items():
        assert environment_size(env) < ENV_LIMIT_BYTES, name


def test_environment_size_counts_unresolved_values_generously():
    from infra.constructs.functions import TOKEN_BUDGET_BYTES

    plain = environment_size({"A": "x"})
    with_token = environment_size({"A": "${Token[TOKEN.42]}"})
    assert with_token - plain == TOKEN_BUDGET_BYTES - 1


def test_queue_consumers_report_batch_item_failures_with_the_manifests_batching(resources):
    ids = function_ids(resources)
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    for spec in manifest.FUNCTIONS:
        for trigger in spec.consumes:
            matching = [
                m["Properties"]
                for m in mappings
                if m["Properties"]["FunctionName"] == {"Ref": ids[spec.name]}
                and m["Properties"]["BatchSize"] == trigger.batch_size
            ]
            assert len(matching) == 1, (spec.name, trigger.queue)
            assert matching[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert matching[0].get("MaximumBatchingWindowInSeconds", 0) == trigger.max_batching_window_s


# --- schedules and queues -------------------------------------------------------------------------


def test_each_schedule_runs_in_the_property_time_zone_with_retries_and_a_dead_letter_queue(
    resources, demo_config
):
    schedules = list(of_type(resources, "AWS::Scheduler::Schedule").values())
    ids = function_ids(resources)
    expected = [(spec, s) for spec in manifest.FUNCTIONS for s in spec.schedules if s.applies(demo_config)]
    assert len(schedules) == len(expected)
    # Shanghai: orders to sweep (WeChat Pay, Alipay), no card autopay to charge
    names = {s["Properties"]["Name"] for s in schedules}
    assert "propdesk-demo-orders-sweep" in names and "propdesk-demo-autopay" not in names
    for spec, schedule in expected:
        (props,) = [
            s["Properties"] for s in schedules if s["Properties"]["Name"] == f"propdesk-demo-{schedule.name}"
        ]
        assert props["ScheduleExpression"] == schedule.expression(demo_config)
        assert props["ScheduleExpressionTimezone"] == "Asia/Shanghai"
        target = props["Target"]
        assert target["Arn"] == {"Fn::GetAtt": [ids[spec.name], "Arn"]}
        assert json.loads(target["Input"]) == schedule.payload
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert resources[dlq]["Type"] == "AWS::SQS::Queue"


def test_each_queue_has_a_dead_letter_queue_encryption_and_ssl_only(resources):
    queues = of_type(resources, "AWS::SQS::Queue")
    by_name = {q["Properties"]["QueueName"]: lid for lid, q in queues.items()}
    policies = of_type(resources, "AWS::SQS::QueuePolicy").values()
    for spec in manifest.QUEUES:
        props = queues[by_name[f"propdesk-demo-{spec.name}"]]["Properties"]
        redrive = props["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == spec.max_receive_count
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] == by_name[f"propdesk-demo-{spec.name}-dlq"]
        assert props["VisibilityTimeout"] == spec.visibility_timeout_s
    for lid, queue in queues.items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, lid
        denies_plain_http = [
            p
            for p in policies
            if {"Ref": lid} in p["Properties"]["Queues"]
            and any(
                s["Effect"] == "Deny"
                and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                for s in p["Properties"]["PolicyDocument"]["Statement"]
            )
        ]
        assert denies_plain_http, lid


def alarm_topic_id(resources) -> str:
    """The alarm topic (the other topic carries SES bounces and complaints to the messenger)."""
    (topic_id,) = [
        lid
        for lid, t in of_type(resources, "AWS::SNS::Topic").items()
        if "alarms" in t["Properties"]["DisplayName"]
    ]
    return topic_id


def test_dead_letter_queues_and_function_errors_raise_alarms_on_the_alarm_topic(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()
    topic_id = alarm_topic_id(resources)
    on_topic = [a for a in alarms if {"Ref": topic_id} in a["Properties"]["AlarmActions"]]
    dlq_names = {f"{q.name}-dlq" for q in manifest.QUEUES} | {
        "schedules-dlq",
        "failed-runs",
        "contact-events-dlq",
    }
    watched_queues = {
        d["Value"]["Fn::GetAtt"][0]
        for a in on_topic
        for d in a["Properties"].get("Dimensions", [])
        if d["Name"] == "QueueName"
    }
    queues = of_type(resources, "AWS::SQS::Queue")
    watched_names = {
        queues[q]["Properties"]["QueueName"].removeprefix("propdesk-demo-") for q in watched_queues
    }
    assert watched_names == dlq_names
    watched_functions = {
        d["Value"]["Ref"]
        for a in on_topic
        for d in a["Properties"].get("Dimensions", [])
        if d["Name"] == "FunctionName"
    }
    assert watched_functions == set(function_ids(resources).values())


PAYMENT_WEBHOOK_ALARMS = monitoring.payment_webhook_alarms("demo")
# What RELIABILITY.md #8/#9/#11 and a wrong signing secret require staff to hear of: (threshold).
STAFF_QUEUE_OUTCOMES = ("set_aside", "duplicate", "mismatch", "unknown_bill")
# A dispute (chargeback) reverses a payment and queues it: staff answer it before Stripe's deadline.
DISPUTE_OUTCOME = "dispute"
REQUIRED_WEBHOOK_ALARMS = {
    **{f"StripeEvent_{outcome}": 1 for outcome in STAFF_QUEUE_OUTCOMES},
    f"StripeEvent_{DISPUTE_OUTCOME}": 1,
    "StripeEvent_failed": 1,
    "WebhookRejected": 10,
}
# WeChat Pay and Alipay (payment_webhook's RAIL_METRIC + the landing's outcome), the sweep and the
# daily reconciliation
ORDER_RAIL_ALARMS = {
    **{
        f"{rail}_{outcome}": 1
        for rail in ("WeChatPay", "Alipay")
        for outcome in ("failed", "unknown_order", "mismatch", "set_aside")
    },
    "OrdersSweep_unconfigured": 1,
    "ReconciliationDifferences": 1,
    "Reconciliation_failed": 1,
}


def metric_alarms(resources: dict) -> dict[str, dict]:
    """Alarms on custom metrics (not on a queue or a function), by metric name."""
    return {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if not a["Properties"]["Namespace"].startswith("AWS/")
    }


def test_set_aside_outcomes_the_alarms_watch_are_real_outcomes():
    from propdesk.services.payments import REVIEWED, Outcome

    assert set(STAFF_QUEUE_OUTCOMES) <= set(get_args(Outcome))
    # every outcome that puts a payment in the staff queue raises an alarm
    assert set(REVIEWED) | {"set_aside"} == set(STAFF_QUEUE_OUTCOMES)


def test_the_dispute_alarm_watches_a_real_outcome_and_says_where_to_look():
    from propdesk.services.refunds import Outcome as ReversalOutcome

    assert DISPUTE_OUTCOME in get_args(ReversalOutcome)
    description = {a.metric_name: a.description for a in PAYMENT_WEBHOOK_ALARMS}["StripeEvent_dispute"]
    assert "GET /staff/payments/review" in description and "propdesk-demo-payments" in description
    assert "Stripe dashboard" in description


def test_payment_webhook_metrics_raise_alarms_on_the_alarm_topic(resources):
    topic_id = alarm_topic_id(resources)
    env = function_env(resources, monitoring.PAYMENT_WEBHOOK)
    alarms = metric_alarms(resources)
    required = REQUIRED_WEBHOOK_ALARMS | ORDER_RAIL_ALARMS
    assert {a.metric_name: a.threshold for a in PAYMENT_WEBHOOK_ALARMS} == required
    assert set(alarms) == set(required)
    for spec in PAYMENT_WEBHOOK_ALARMS:
        alarm = alarms[spec.metric_name]
        # the series Powertools writes: the function's namespace, dimension service=<its service name>
        assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"] == "PropDesk/demo"
        assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
        assert env["POWERTOOLS_SERVICE_NAME"] == monitoring.PAYMENT_WEBHOOK
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 300
        assert alarm["EvaluationPeriods"] == 1
        assert alarm["Threshold"] == required[spec.metric_name]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["AlarmDescription"] == spec.description


def test_set_aside_alarms_tell_the_operator_where_to_look():
    by_name = {a.metric_name: a.description for a in PAYMENT_WEBHOOK_ALARMS}
    for outcome in STAFF_QUEUE_OUTCOMES:
        description = by_name[f"StripeEvent_{outcome}"]
        assert "propdesk-demo-payments" in description
        assert "GET /staff/payments/review" in description
    assert all(len(d) <= 1024 for d in by_name.values())  # CloudWatch's limit


def test_powertools_emits_the_series_the_alarms_watch(resources):
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    # GIVEN Powertools Metrics configured as the deployed webhook's environment configures it
    env = function_env(resources, monitoring.PAYMENT_WEBHOOK)
    alarms = metric_alarms(resources)
    metrics = Metrics(namespace=env["POWERTOOLS_METRICS_NAMESPACE"], service=env["POWERTOOLS_SERVICE_NAME"])
    try:
        for name in alarms:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        # WHEN it serialises the EMF blob written to the log
        blob = metrics.serialize_metric_set()
    finally:
        metrics.clear_metrics()
    # THEN each alarm's namespace and dimensions name exactly that series
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert {m["Name"] for m in directive["Metrics"]} == set(alarms)
    for alarm in alarms.values():
        assert directive["Namespace"] == alarm["Namespace"]
        assert directive["Dimensions"] == [[d["Name"] for d in alarm["Dimensions"]]]
        assert all(blob[d["Name"]] == d["Value"] for d in alarm["Dimensions"])


@pytest.mark.parametrize("metric_name", sorted(REQUIRED_WEBHOOK_ALARMS))
def test_payment_webhook_emits_each_alarmed_metric(metric_name, monkeypatch):
    from infra.local.events import LambdaContext
    from payment_webhook import handler
    from propdesk.web.access import InvalidSignature
    from tests.route_events import route_event

    # GIVEN the webhook with its signature check, store and event processing stood in for
    def verify(body, headers):
        if metric_name == "WebhookRejected":
            raise InvalidSignature
        return {"id": "evt_1", "type": "checkout.session.completed"}

    def process(stripe_event, **_kwargs):
        if metric_name == "StripeEvent_failed":
            raise RuntimeError("store unavailable")
        return {"received": True, "outcome": metric_name.removeprefix("StripeEvent_")}

    monkeypatch.setattr(handler.access, "_providers", {"stripe": verify})
    monkeypatch.setattr(handler, "process_stripe_event", process)
    monkeypatch.setattr(handler, "idempotent_function", lambda **_kw: lambda fn: fn)
    monkeypatch.setattr(handler, "persistence_layer", lambda: None)
    monkeypatch.setattr(
        handler, "stripe_keys", lambda: SimpleNamespace(webhook_secret="whsec_x", livemode=False)
    )
    monkeypatch.setattr(handler, "get_settings", lambda *_: SimpleNamespace(property_config=None))
    handler.metrics.clear_metrics()
    try:
        # WHEN an event comes in
        handler.serve(
            handler.app,
            route_event("stripe_webhook", body="{}", headers={"content-type": "application/json"}),
            LambdaContext(function_name="payment_webhook"),
            access=handler.access,
            refusal=handler.refusal,
            failed=handler.failed,
        )
        emitted = set(handler.metrics.metric_set)
    finally:
        handler.metrics.clear_metrics()
    # THEN the handler counts it under the name the alarm watches
    assert emitted == {metric_name}


@pytest.mark.parametrize("metric_name", sorted(ORDER_RAIL_ALARMS))
def test_payment_webhook_emits_each_order_rail_metric(metric_name, monkeypatch):
    from infra.local.events import LambdaContext
    from payment_webhook import handler
    from propdesk.payments import rails as offered
    from propdesk.services import rails, reconcile
    from propdesk.settings import ConfigurationMissing
    from tests.route_events import route_event

    rail_metric, _, outcome = metric_name.partition("_")
    rail = {"WeChatPay": "wechat_pay", "Alipay": "alipay"}.get(rail_metric)
    config = SimpleNamespace(payment=SimpleNamespace(rails=("wechat_pay",)))
    monkeypatch.setattr(handler, "get_settings", lambda *_: SimpleNamespace(property_config=config))

    # GIVEN the rails, their landing and the reconciliation stood in for
    def land(*_args, **_kwargs):
        if outcome == "failed":
            raise RuntimeError("store unavailable")
        return rails.Landed(outcome)

    def provider(name, _settings):
        if metric_name == "OrdersSweep_unconfigured":
            raise ConfigurationMissing("placeholder keys")
        return SimpleNamespace(rail=name)

    def days(_provider, **_kwargs):
        day = SimpleNamespace(day=date(2026, 12, 1), differences=[], state="reconciled")
        if metric_name == "ReconciliationDifferences":
            day.differences = [SimpleNamespace(type="provider_only")]
        if metric_name == "Reconciliation_failed":
            day.state = "failed"
        return [day]

    monkeypatch.setattr(handler.rails, "land", land)
    monkeypatch.setattr(handler.rails, "sweep", lambda *_a, **_k: rails.SweepResult())
    monkeypatch.setattr(offered, "provider", provider)
    monkeypatch.setattr(reconcile, "reconcile", days)
    monkeypatch.setattr(handler.access, "_providers", {rail or "x": lambda body, headers: object()})
    handler.metrics.clear_metrics()
    try:
        # WHEN a notification comes in, or the sweep or the reconciliation runs
        if rail is not None:
            key = {"wechat_pay": "wechatpay_notify", "alipay": "alipay_notify"}[rail]
            media = "application/json" if rail == "wechat_pay" else "application/x-www-form-urlencoded"
            handler.serve(
                handler.app,
                route_event(key, body="{}", headers={"content-type": media}),
                LambdaContext(function_name="payment_webhook"),
                access=handler.access,
                refusal=handler.refusal,
                failed=handler.failed,
            )
        elif metric_name == "OrdersSweep_unconfigured":
            handler.sweep_orders()
        else:
            handler.reconcile_rails()
        emitted = {name for name in handler.metrics.metric_set if not name.startswith("OrdersSwept_")}
    finally:
        handler.metrics.clear_metrics()
    # THEN the handler counts it under the name the alarm watches
    assert emitted == {metric_name}


# --- documents bucket -----------------------------------------------------------------------------


def test_documents_bucket_is_encrypted_versioned_private_and_retained(resources):
    buckets = of_type(resources, "AWS::S3::Bucket")
    (documents,) = [b for b in buckets.values() if b["Properties"].get("VersioningConfiguration")]
    props = documents["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["LoggingConfiguration"]["DestinationBucketName"]
    assert documents["DeletionPolicy"] == "Retain"
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == "Retain"


def test_functions_reach_only_their_document_prefixes(resources):
    buckets = of_type(resources, "AWS::S3::Bucket")
    (bucket_id,) = [lid for lid, b in buckets.items() if b["Properties"].get("VersioningConfiguration")]
    for spec in manifest.FUNCTIONS:
        on_bucket = [
            s
            for s in statements_of(resources, function_ids(resources)[spec.name])
            if bucket_id in referenced_ids(s)
        ]
        if not spec.documents:
            assert on_bucket == [], spec.name
            continue
        actions = {a for s in on_bucket for a in as_list(s["Action"])}
        expected = {"s3:GetObject", "s3:ListBucket"} | (
            {"s3:PutObject"} if spec.documents == "read_write" else set()
        )
        assert actions == expected, spec.name
        objects = [s for s in on_bucket if "s3:GetObject" in as_list(s["Action"])]
        suffixes = {r["Fn::Join"][1][-1] for s in objects for r in as_list(s["Resource"])}
        assert suffixes == {f"/{prefix}*" for prefix in spec.document_prefixes}, spec.name
        (listing,) = [s for s in on_bucket if as_list(s["Action"]) == ["s3:ListBucket"]]
        assert listing["Condition"] == {
            "StringLike": {"s3:prefix": [f"{p}*" for p in spec.document_prefixes]}
        }


# --- API and staff sign-in ------------------------------------------------------------------------


def test_jwt_authorizer_on_exactly_the_staff_routes(resources):
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in of_type(resources, "AWS::ApiGatewayV2::Route").values()
    }
    expected = {f"{route.method} {route.path}": route for _, route in manifest.routes()}
    # THEN every route of the route table exists with the same path, and nothing else
    assert set(routes) == set(expected)
    (authorizer_id,) = of_type(resources, "AWS::ApiGatewayV2::Authorizer")
    for key, route in expected.items():
        if isinstance(route.audience, Staff):
            assert routes[key]["AuthorizationType"] == "JWT", key
            assert routes[key]["AuthorizerId"] == {"Ref": authorizer_id}, key
        else:
            assert routes[key]["AuthorizationType"] == "NONE", key
            assert "AuthorizerId" not in routes[key], key
    assert routes["POST /webhooks/stripe"]["AuthorizationType"] == "NONE"
    assert routes["GET /pay/{token}"]["AuthorizationType"] == "NONE"


def test_authorizer_trusts_the_staff_user_pool_and_console_client(resources):
    (authorizer,) = of_type(resources, "AWS::ApiGatewayV2::Authorizer").values()
    (pool_id,) = of_type(resources, "AWS::Cognito::UserPool")
    (client_id,) = of_type(resources, "AWS::Cognito::UserPoolClient")
    jwt = authorizer["Properties"]["JwtConfiguration"]
    assert jwt["Audience"] == [{"Ref": client_id}]
    # The user pool's provider URL, https://cognito-idp.<region>.amazonaws.com/<pool id>: its tokens' issuer.
    assert jwt["Issuer"] == {"Fn::GetAtt": [pool_id, "ProviderURL"]}
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]


def test_stage_writes_access_logs_without_paths(resources):
    (stage,) = of_type(resources, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"]
    log_format = json.loads(settings["Format"])
    assert log_format["routeKey"] == "$context.routeKey"
    assert "$context.path" not in settings["Format"]  # pay-link tokens stay out of the logs


def test_public_url_parameter_holds_the_api_endpoint_and_only_url_readers_may_read_it(resources):
    (param_id, param), *_ = of_type(resources, "AWS::SSM::Parameter").items()
    assert param["Properties"]["Name"] == naming.public_url_parameter_name("demo")
    assert "ApiEndpoint" in json.dumps(param["Properties"]["Value"])
    ids = function_ids(resources)
    for spec in manifest.FUNCTIONS:
        reads = any(
            "ssm:GetParameter" in as_list(s["Action"]) and param_id in json.dumps(s["Resource"])
            for s in statements_of(resources, ids[spec.name])
        )
        assert reads == spec.reads_public_url, spec.name


def test_staff_user_pool_groups_sign_up_and_client(demo_config, resources, template):
    groups = {
        g["Properties"]["GroupName"] for g in of_type(resources, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == set(manifest.staff_roles(demo_config))
    assert {"admin", "cashier", "agent", "dept-engineering", "dept-cleaning"} <= groups
    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "MfaConfiguration": "OPTIONAL",
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    {"MinimumLength": 12, "RequireSymbols": True, "RequireNumbers": True}
                )
            },
        },
    )
    (pool,) = of_type(resources, "AWS::Cognito::UserPool").values()
    assert pool["DeletionPolicy"] == "Retain"
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {"GenerateSecret": False, "ExplicitAuthFlows": Match.array_with(["ALLOW_USER_SRP_AUTH"])},
    )


# --- secrets --------------------------------------------------------------------------------------


def test_secrets_are_named_by_the_manifest_and_generated(resources):
    secrets = {s["Properties"]["Name"]: s for s in of_type(resources, "AWS::SecretsManager::Secret").values()}
    assert set(secrets) == {naming.secret_name("demo", key) for key in manifest.SECRETS}
    link = secrets[naming.secret_name("demo", "link_key")]["Properties"]["GenerateSecretString"]
    assert link["GenerateStringKey"] == "key"
    assert link["PasswordLength"] >= 32
    assert link["ExcludePunctuation"] is True
    stripe = secrets[naming.secret_name("demo", "stripe")]["Properties"]["GenerateSecretString"]
    assert set(json.loads(stripe["SecretStringTemplate"])) | {stripe["GenerateStringKey"]} == {
        "api_key",
        "webhook_secret",
    }
    assert all(s["DeletionPolicy"] == "Retain" for s in secrets.values())


def test_only_functions_listing_a_secret_may_read_it(resources):
    secret_ids = {
        s["Properties"]["Name"]: lid for lid, s in of_type(resources, "AWS::SecretsManager::Secret").items()
    }
    ids = function_ids(resources)
    for spec in manifest.FUNCTIONS:
        statements = statements_of(resources, ids[spec.name])
        for key in manifest.SECRETS:
            secret_id = secret_ids[naming.secret_name("demo", key)]
            reads = any(
                "secretsmanager:GetSecretValue" in as_list(s["Action"])
                and {"Ref": secret_id} in as_list(s["Resource"])
                for s in statements
            )
            assert reads == (key in spec.secrets), (spec.name, key)


# --- least privilege ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=lambda s: s.name)
def test_table_access_is_exactly_the_manifests(resources, spec):
    # GIVEN the tables each function's role can act on
    tables_by_id = {lid: key for key, lid in table_ids(resources).items()}
    statements = statements_of(resources, function_ids(resources)[spec.name])
    reachable: dict[str, set[str]] = {}
    for statement in statements:
        for lid in referenced_ids(statement.get("Resource")) & set(tables_by_id):
            reachable.setdefault(tables_by_id[lid], set()).update(as_list(statement["Action"]))
    # THEN it reaches only its manifest tables, and writes only where it may
    assert set(reachable) == set(spec.tables)
    for key, actions in reachable.items():
        writes = bool(actions & WRITE_ACTIONS)
        assert writes == (spec.tables[key] == "read_write"), (spec.name, key)


def test_messenger_may_read_the_bills_table_and_never_write_it(resources):
    """It reads a reminder's bill just before sending (RELIABILITY 34); nothing more."""
    bills = table_ids(resources)["bills"]
    statements = statements_of(resources, function_ids(resources)["messenger"])
    on_bills = [s for s in statements if bills in referenced_ids(s.get("Resource"))]
    actions = {a for s in on_bills for a in as_list(s["Action"])}
    assert "dynamodb:GetItem" in actions
    assert not {a for a in actions if a.split(":")[1].startswith(("Put", "Update", "Delete", "BatchWrite"))}


def test_only_the_messenger_may_send_email_or_sms(resources, demo_config):
    ids = function_ids(resources)
    for spec in manifest.FUNCTIONS:
        allowed = [s for s in statements_of(resources, ids[spec.name]) if s["Effect"] == "Allow"]
        actions = {a for s in allowed for a in as_list(s["Action"])}
        assert ("ses:SendEmail" in actions) == spec.sends_email, spec.name
        assert ("sns:Publish" in actions) == spec.sends_sms, spec.name
        assert not any(a.startswith("ses:") for a in actions) or spec.sends_email
    assert [s.name for s in manifest.FUNCTIONS if s.sends_email] == ["messenger"]
    assert not any(
        a.startswith("ses:")
        for s in statements_of(resources, ids["payment_webhook"])
        for a in as_list(s["Action"])
    )
    # The messenger's email permission names the property's sender only.
    email, through_set = [
        s for s in statements_of(resources, ids["messenger"]) if "ses:SendEmail" in as_list(s["Action"])
    ]
    # ... and sending through the property's configuration set (so bounces come back)
    assert "configuration-set" in json.dumps(through_set["Resource"]) and "*" not in json.dumps(
        through_set["Resource"]
    )
    assert email["Condition"] == {"StringEquals": {"ses:FromAddress": demo_config.messaging.sender_email}}
    assert all(demo_config.messaging.sender_email.split("@")[1] in json.dumps(r) for r in email["Resource"])
    # SMS may not be used to publish to topics.
    denies = [s for s in statements_of(resources, ids["messenger"]) if s["Effect"] == "Deny"]
    assert any("sns:Publish" in as_list(s["Action"]) and s["Resource"] == "arn:*:sns:*:*:*" for s in denies)


def test_functions_send_only_to_the_queues_they_list(resources):
    queue_ids = {
        q["Properties"]["QueueName"].removeprefix("propdesk-demo-"): lid
        for lid, q in of_type(resources, "AWS::SQS::Queue").items()
    }
    ids = function_ids(resources)
    for spec in manifest.FUNCTIONS:
        sends = {
            name
            for s in statements_of(resources, ids[spec.name])
            if "sqs:SendMessage" in as_list(s["Action"])
            for name, lid in queue_ids.items()
            if lid in referenced_ids(s["Resource"])
        }
        # Scheduled functions also send their failed asynchronous runs to the failed-runs queue.
        expected = set(spec.sends_to) | ({"failed-runs"} if spec.schedules else set())
        assert sends == expected, spec.name


# --- cdk-nag and outputs --------------------------------------------------------------------------


def test_cdk_nag_packs_ran_and_left_no_finding_unacknowledged(synth):
    reports = {r["pluginName"]: r for r in synth["report"]["pluginReports"]}
    assert {"AwsSolutions", "Serverless"} <= set(reports)
    for name, report in reports.items():
        assert report["violations"] == [], name
        assert report["conclusion"] == "success", name


def test_every_acknowledged_finding_has_a_specific_reason(synth):
    suppressed = [s for r in synth["report"]["pluginReports"] for s in r.get("suppressedViolations", [])]
    assert suppressed, "expected the known, acknowledged findings (e.g. unauthenticated pay routes)"
    for finding in suppressed:
        reason = finding.get("reason", "")
        assert len(reason) >= 40 and len(set(reason.split())) >= 8, finding["acknowledgedId"]
    acknowledged = {s["acknowledgedId"] for s in suppressed}
    assert "AwsSolutions::AwsSolutions-APIG4" in acknowledged


def test_outputs_name_what_an_administrator_needs(synth):
    outputs = synth["json"]["Outputs"]
    for key in (
        "ApiUrl",
        "UserPoolId",
        "StaffConsoleClientId",
        "StripeSecretName",
        "LinkKeySecretName",
        "AlarmTopicArn",
    ):
        assert key in outputs, key
    assert outputs["StripeSecretName"]["Value"] == naming.secret_name("demo", "stripe")
    assert "webhook_secret" in outputs["StripeSecretName"]["Description"]


def test_stack_is_named_after_the_property(synth):
    assert synth["stack"].stack_name == stack_name("demo") == "PropDesk-demo"


def test_nag_checks_stop_a_synth_with_an_unacknowledged_finding(tmp_path):
    # GIVEN an app with the same checks and a queue that allows plain HTTP and has no DLQ
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    from infra.app import add_nag_checks

    app = App(outdir=str(tmp_path))
    sqs.Queue(Stack(app, "Careless"), "Queue")
    add_nag_checks(app)
    # WHEN synthesizing THEN it fails, naming the rule
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS"):
        app.synth()


def test_acknowledging_without_a_real_reason_is_refused():
    from aws_cdk import App, Stack

    from infra.constructs.nag import acknowledge

    with pytest.raises(ValueError, match="specific reason"):
        acknowledge(Stack(App(), "S"), "AwsSolutions-SQS3", "not needed")


def test_only_the_api_may_use_the_mandates_key_and_only_to_encrypt_and_decrypt(resources):
    (alias,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::KMS::Alias"
        and r["Properties"]["AliasName"] == naming.mandates_key_alias("demo")
    ]
    key_id = alias["TargetKeyId"]["Fn::GetAtt"][0]
    assert resources[key_id]["Properties"]["EnableKeyRotation"] is True
    users = {}
    # (a role's statements past the inline policy's size go to "overflow" managed policies)
    policies = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    for policy in (r for r in resources.values() if r["Type"] in policies):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if {"Fn::GetAtt": [key_id, "Arn"]} in targets:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                for role in policy["Properties"]["Roles"]:
                    users.setdefault(role["Ref"], set()).update(actions)
    assert len(users) == 1 and next(iter(users.values())) == {"kms:Encrypt", "kms:Decrypt"}
    (role,) = users
    assert "api" in role.lower()


def test_a_property_gets_only_the_schedules_its_rails_need():
    """A Stripe property with card autopay (harbour) charges cards daily and has no orders to sweep
    every five minutes; the Shanghai demo sweeps its WeChat Pay and Alipay orders, charges no cards."""
    from infra.config import load_config

    def deployed(property_id):
        config = load_config(property_id)
        return {s.name for spec in manifest.FUNCTIONS for s in spec.schedules if s.applies(config)}

    assert deployed("harbour") == {"notice-run", "overdue-run", "reconcile", "autopay", "release-held"}
    assert deployed("demo") == {"notice-run", "overdue-run", "reconcile", "orders-sweep", "release-held"}


def test_bounces_and_complaints_reach_the_messenger(template):
    # SES publishes permanent bounces and complaints of the owner mail configuration set to SNS
    template.has_resource_properties(
        "AWS::SES::ConfigurationSetEventDestination",
        {
            "ConfigurationSetName": {"Ref": Match.any_value()},
            "EventDestination": Match.object_like(
                {
                    "Enabled": True,
                    "MatchingEventTypes": ["bounce", "complaint"],
                    "SnsDestination": Match.any_value(),
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::SES::ConfigurationSet", {"Name": naming.ses_configuration_set("demo")}
    )
    # and the topic and the SMS failure log hand them to the messenger, with a dead-letter queue
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "lambda", "RedrivePolicy": Match.any_value()}
    )
    template.has_resource_properties("AWS::Logs::SubscriptionFilter", {"FilterPattern": ""})
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {"ScheduleExpression": "cron(0 8 * * ? *)", "ScheduleExpressionTimezone": "Asia/Shanghai"},
    )
