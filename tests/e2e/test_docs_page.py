"""The local API documentation page, as a browser shows it: Swagger UI, from assets served by the
runtime itself, lists every route of the route table, the ticket routes included."""

from __future__ import annotations

import html

import pytest

from propdesk.routes import ROUTES
from tests.e2e.browser import rendered_dom

# One worker runs this module, with the one runtime its fixture starts.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_docs_page")]


def test_docs_page_shows_every_route_in_a_browser(small_runtime):
    # WHEN the docs page is opened in headless Chromium and its scripts have run
    dom = rendered_dom(f"{small_runtime.base_url}/_local/docs")
    # THEN Swagger UI drew one operation per route of the route table, with its summary
    text = html.unescape(dom)
    assert 'class="swagger-ui' in dom, "Swagger UI did not start (assets not served?)"
    for route in ROUTES:
        assert f'data-path="{route.path}"' in text, route.route_key
        assert route.summary in text, route.route_key
    assert text.count("opblock-summary-method") >= len(ROUTES)
