"""Response helpers of the api function: HTML for the pay pages; the staff routes' JSON helpers
come from ``propdesk.web.staff_errors`` (shared with the other staff functions)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from propdesk.web.staff_errors import json_error, json_ok

__all__ = ["HTML_HEADERS", "html", "json_error", "json_ok", "redirect"]

HTML_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The token is in the URL: never send it on to other sites.
    "Referrer-Policy": "no-referrer",
    # No scripts at all; inline styles only. (No form-action: the Pay form redirects to Stripe.)
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; frame-ancestors 'none'",
}


def html(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=body,
        headers={**HTML_HEADERS, **(headers or {})},
    )


def redirect(url: str) -> Response:
    return Response(status_code=303, body="", headers={"Location": url, "Cache-Control": "no-store"})
