"""The owner's pay pages: bill, return from Checkout, and the one generic "link not valid" page.

Pure rendering: values in, an HTML string out. Each page is a Jinja2 template,
``propdesk/templates/pages/<page>.html`` on one base layout, with its words in the labels
catalog (see ``propdesk.rendering``); every value from data or configuration is autoescaped.
This module only works out the locale and the page's links. The not-found page depends on
the locale alone, so it is the same for every refused link and reveals nothing about other units.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from propdesk.config import LOCALES, PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.formatting import format_date, format_period
from propdesk.payments.links import pay_path
from propdesk.rendering import catalog, render_template

__all__ = [
    "choose_locale",
    "format_date",
    "format_period",
    "labels",
    "render_bill_page",
    "render_error",
    "render_not_found",
    "render_return_page",
]

_FALLBACK = "zh-CN"


def choose_locale(requested: str | None, owner_locale: str | None, default: str) -> str:
    """``?lang=`` first, then the owner's locale, then the property's default."""
    for candidate in (requested, owner_locale, default):
        if candidate in LOCALES:
            return candidate  # type: ignore[return-value]
    return _FALLBACK


def _known(locale: str) -> str:
    return locale if locale in LOCALES else _FALLBACK


def labels(locale: str) -> Mapping[str, str]:
    """The pages' labels in ``locale`` (zh-CN for a locale we do not have)."""
    return catalog(_known(locale))["page"]


def _other_locale(locale: str) -> str:
    return "en" if locale == "zh-CN" else "zh-CN"


def _language_switch(token: str, locale: str, suffix: str = "") -> dict[str, str]:
    """The same page in the other language; its words are the page's ``switch_language``."""
    other = _other_locale(locale)
    return {"href": f"{pay_path(token, suffix)}?lang={quote(other)}", "lang": other}


def _page(name: str, locale: str, config: PropertyConfig | None = None, **variables: object) -> str:
    return render_template(f"pages/{name}", variables, locale=_known(locale), config=config)


def render_bill_page(
    bill: Bill,
    *,
    config: PropertyConfig,
    locale: str,
    token: str,
    notice: str | None = None,
) -> str:
    """The owner's bill: itemised lines, total, due date, status, Pay (when open), other channels.

    ``notice`` is an optional label key shown above the bill (e.g. ``"unavailable_body"``).
    """
    return _page(
        "bill.html",
        locale,
        config,
        bill=bill,
        notice=notice,
        switch=_language_switch(token, _known(locale)),
        checkout_url=pay_path(token, "/checkout"),
    )


def render_return_page(bill: Bill, *, config: PropertyConfig, locale: str, token: str) -> str:
    """After Checkout: thank the owner and say whether the payment is confirmed yet."""
    locale = _known(locale)
    return _page(
        "return.html",
        locale,
        config,
        bill=bill,
        switch=_language_switch(token, locale, "/return"),
        back_url=f"{pay_path(token)}?lang={quote(locale)}",
    )


def render_not_found(locale: str) -> str:
    """The one page for every refused link: unknown, altered, expired or for another unit."""
    return _page("not_found.html", locale)


def render_error(locale: str, *, message_key: str = "error_body") -> str:
    return _page("error.html", locale, message_key=message_key)
