"""What AWS hands a Lambda function, built one way: the context object, API Gateway HTTP API
(payload 2.0) events, SQS batches and EventBridge Scheduler payloads.

The local runtime invokes the functions with these, and the tests and the benchmark use the
same builders, so a test's event is the event the function gets locally and in AWS.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT_ID = "123456789012"
REGION = "ap-southeast-1"


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and handlers read."""

    function_name: str = "propdesk-test"
    memory_limit_in_mb: int = 256
    timeout_s: int = 60
    region: str = REGION
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: str | Mapping[str, str] | None = None,
    headers: Iterable[tuple[str, str]] | Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    claims: Mapping[str, Any] | None = None,
    source_ip: str = "203.0.113.7",
    host: str = "api.example.test",
    at: datetime | None = None,
) -> dict[str, Any]:
    """The event API Gateway (HTTP API, payload 2.0) sends for a request.

    ``route`` is the matched route's path (``/pay/{token}``; default: ``path``). ``claims`` are
    what the JWT authorizer passes on for a verified token. A body that is bytes, or text of a
    type API Gateway does not treat as text, arrives base64-encoded, as API Gateway sends it.
    """
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or [])
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in pairs:
        name = key.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[name] = f"{merged[name]},{value}" if name in merged else value
    merged.setdefault("host", host)
    if isinstance(query, Mapping):
        raw_query = "&".join(f"{k}={v}" for k, v in query.items())
        query_pairs = list(query.items())
    else:
        raw_query = query or ""
        query_pairs = parse_qsl(raw_query, keep_blank_values=True)
    parameters: dict[str, str] = {}
    for key, value in query_pairs:
        parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
    moment = at or datetime.now(UTC)
    route_key = f"{method} {route or path}"
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": merged["host"],
        "domainPrefix": merged["host"].split(".")[0].split(":")[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": merged.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(moment.timestamp() * 1000),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if parameters:
        event["queryStringParameters"] = parameters
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None and body != b"":
        text: str | None = None
        if isinstance(body, str):
            text = body
        elif is_text(merged.get("content-type")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(body if isinstance(body, bytes) else body.encode()).decode(
                "ascii"
            )
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


_TEXT_PREFIXES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


def is_text(content_type: str | None) -> bool:
    """Whether API Gateway passes a body of this type as text (else it base64-encodes it)."""
    if not content_type:
        return True
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith(_TEXT_PREFIXES) or kind.endswith("+json") or kind.endswith("+xml")


def staff_claims(*roles: str, sub: str = "staff-1") -> dict[str, str]:
    """The claims API Gateway's JWT authorizer passes on for a Cognito user in ``roles``."""
    return {"sub": sub, "cognito:groups": "[" + " ".join(roles) + "]"}


_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
)


def sqs_event(
    messages: Sequence[str | Mapping[str, Any]],
    *,
    queue_arn: str = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:propdesk-demo-messages",
) -> dict[str, Any]:
    """A batch as Lambda's SQS event source delivers it. ``messages`` are what SQS's
    ReceiveMessage returned (the local pollers), or plain bodies (tests)."""
    sent = str(int(time.time() * 1000))
    records = []
    for n, message in enumerate(messages):
        if isinstance(message, str):
            message = {
                "MessageId": str(uuid.uuid4()),
                "ReceiptHandle": f"handle-{n}",
                "Body": message,
                "Attributes": {
                    "SentTimestamp": sent,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": sent,
                },
            }
        attributes = {
            key: str(value)
            for key, value in (message.get("Attributes") or {}).items()
            if key in _RECORD_ATTRIBUTES
        }
        attributes.setdefault("ApproximateReceiveCount", "1")
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": attributes,
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value.get("DataType", "String"),
                    }
                    for name, value in (message.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
        )
    return {"Records": records}


def scheduler_event(payload: Mapping[str, Any]) -> dict[str, Any]:
    """EventBridge Scheduler's Lambda target delivers the schedule's input as the event itself."""
    return dict(payload)
