"""Helpers for the end-to-end tests on the local runtime."""

from __future__ import annotations

from infra.local.demo import PAY_LINK_RE


def admin_headers(runtime, role="admin"):
    return {"Authorization": "Bearer " + runtime.mint_token([role], sub=f"e2e-{role}")}


def links_in(outbox, *, email=None, phone=None):
    tokens = []
    for mail in outbox["email"]:
        if email and email.lower() in (a.lower() for a in mail["to"]):
            tokens += PAY_LINK_RE.findall(mail["body"])
    for sms in outbox["sms"]:
        if phone and sms["to"] == phone:
            tokens += PAY_LINK_RE.findall(sms["text"])
    return tokens
