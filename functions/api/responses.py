"""Response helpers shared by the pay pages and the staff routes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

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


def json_error(status: int, error: str, message: str, **extra: Any) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": error, "message": message, **extra},
        headers={"Cache-Control": "no-store"},
    )


def json_ok(body: Any, status: int = 200) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Cache-Control": "no-store"},
    )
