"""The local outbox: the email (SES v2) and SMS (SNS) the functions sent, read from moto.

The moto server runs in the runtime's process, so its backends are read directly: SES v2
keeps sent mail in the SES backend's ``sent_messages`` (``Message`` for simple content,
``RawMessage`` for raw MIME), SNS keeps SMS in ``sms_messages`` (id -> (phone, text)).
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
                out.append(
                    {
                        "channel": "email",
                        "id": message.id,
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


def outbox() -> dict[str, Any]:
    email_list = sent_email()
    sms_list = sent_sms()
    return {
        "read_at": datetime.now(UTC).isoformat(),
        "counts": {"email": len(email_list), "sms": len(sms_list)},
        "email": list(reversed(email_list)),
        "sms": list(reversed(sms_list)),
    }


def text_of(body: str, is_html: bool) -> str:
    return html.unescape(_TAG_RE.sub(" ", body)) if is_html else body


def render_html(box: dict[str, Any], *, limit: int = 200) -> str:
    emails = box["email"][:limit]
    sms = box["sms"][:limit]
    email_rows = []
    for item in emails:
        if item["html"]:
            body = f'<iframe sandbox srcdoc="{html.escape(item["body"], quote=True)}"></iframe>'
        else:
            body = f"<pre>{html.escape(item['body'])}</pre>"
        email_rows.append(
            "<article>"
            f"<div class=meta><b>{html.escape(item['subject'])}</b><br>"
            f"from {html.escape(item['from'])} to {html.escape(', '.join(item['to']))}</div>{body}</article>"
        )
    sms_rows = [
        f"<article><div class=meta>to {html.escape(item['to'])}</div><pre>{html.escape(item['text'])}</pre></article>"
        for item in sms
    ]
    shown = (
        "" if len(box["email"]) <= limit and len(box["sms"]) <= limit else f" (newest {limit} of each shown)"
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Outbox - PropDesk local</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}"
        "main{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}"
        "article{border:1px solid #ddd;border-radius:6px;padding:.6rem;margin-bottom:.8rem}"
        ".meta{color:#555;margin-bottom:.4rem}pre{white-space:pre-wrap;margin:0}"
        "iframe{width:100%;height:18rem;border:1px solid #eee}</style></head><body>"
        f"<h1>Outbox</h1><p>{box['counts']['email']} email, {box['counts']['sms']} SMS sent, newest first"
        f"{shown}. <a href='?format=json'>JSON</a></p>"
        f"<main><section><h2>Email</h2>{''.join(email_rows) or '<p>None yet.</p>'}</section>"
        f"<section><h2>SMS</h2>{''.join(sms_rows) or '<p>None yet.</p>'}</section></main></body></html>"
    )
