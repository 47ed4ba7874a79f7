"""The local outbox: the email (SES v2) and SMS (SNS) the functions sent, read from moto.

The moto server runs in a process of its own (``infra.local.moto_process``), which reads its
backends directly (``collect``): SES v2 keeps sent mail in the SES backend's ``sent_messages``
(``Message`` for simple content, ``RawMessage`` for raw MIME), SNS keeps SMS in
``sms_messages`` (id -> (phone, text)). The runtime asks that process for them (``outbox``).
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, datetime
from typing import Any

from moto.ses.models import RawMessage, ses_backends
from moto.sns.models import sns_backends

from infra.local import contact_events, pages

_TAG_RE = re.compile(r"<[^>]+>")


def _raw_parts(raw: str) -> tuple[str, str, bool]:
    """Subject, body and whether the body is HTML, from a raw MIME message."""
    message = email.message_from_string(raw, policy=email.policy.default)
    subject = str(message.get("Subject", ""))
    body_part = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    if body_part is None:
        return subject, "", False
    return subject, body_part.get_content(), body_part.get_content_type() == "text/html"


def sent_email() -> list[dict[str, Any]]:
    """Every email sent, oldest first."""
    out: list[dict[str, Any]] = []
    for account_id, regions in list(ses_backends.items()):
        for region, backend in list(regions.items()):
            for message in list(backend.sent_messages):
                if isinstance(message, RawMessage):
                    subject, body, is_html = _raw_parts(message.raw_data)
                    to = list(message.destinations)
                else:
                    subject, body = message.subject, message.body
                    is_html = bool(re.search(r"<(html|body|p|div|table|br)\b", body or "", re.I))
                    to = [
                        addr
                        for key in ("ToAddresses", "CcAddresses", "BccAddresses")
                        for addr in (message.destinations or {}).get(key, [])
                    ]
                kept = contact_events.SENT.get(message.id) or {}
                out.append(
                    {
                        "channel": "email",
                        "id": message.id,
                        "tags": kept.get("tags") or {},
                        "configuration_set": kept.get("configuration_set"),
                        "from": message.source,
                        "to": to,
                        "subject": subject,
                        "body": body,
                        "html": is_html,
                        "account": account_id,
                        "region": region,
                    }
                )
    return out


def sent_sms() -> list[dict[str, Any]]:
    """Every SMS sent, oldest first."""
    out: list[dict[str, Any]] = []
    for account_id, regions in list(sns_backends.items()):
        for region, backend in list(regions.items()):
            for message_id, (phone, text) in list(backend.sms_messages.items()):
                out.append(
                    {
                        "channel": "sms",
                        "id": message_id,
                        "to": phone,
                        "text": text,
                        "account": account_id,
                        "region": region,
                    }
                )
    return out


def collect() -> dict[str, list[dict[str, Any]]]:
    """In the moto server's process: what was sent, oldest first."""
    return {"email": sent_email(), "sms": sent_sms()}


def outbox(endpoint_url: str | None = None) -> dict[str, Any]:
    """What was sent, newest first, asked of the moto server at ``endpoint_url`` (the
    functions' ``AWS_ENDPOINT_URL`` by default)."""
    import os

    import requests

    from infra.local.moto_process import OUTBOX_PATH

    base = endpoint_url or os.environ["AWS_ENDPOINT_URL"]
    sent = requests.get(f"{base.rstrip('/')}{OUTBOX_PATH}", timeout=60).json()
    email_list, sms_list = sent["email"], sent["sms"]
    return {
        "read_at": datetime.now(UTC).isoformat(),
        "counts": {"email": len(email_list), "sms": len(sms_list)},
        "email": list(reversed(email_list)),
        "sms": list(reversed(sms_list)),
    }


def text_of(body: str, is_html: bool) -> str:
    return html.unescape(_TAG_RE.sub(" ", body)) if is_html else body


def render_html(box: dict[str, Any], *, limit: int = 200) -> str:
    return pages.render(
        "outbox.html",
        title="Outbox",
        counts=box["counts"],
        emails=box["email"][:limit],
        texts=box["sms"][:limit],
        limit=limit,
        truncated=len(box["email"]) > limit or len(box["sms"]) > limit,
    )
