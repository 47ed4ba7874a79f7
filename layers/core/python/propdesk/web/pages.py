"""The owner's pay pages: the account, return from Checkout, and the one generic "link not valid" page.

Pure rendering: values in, an HTML string out. Each page is a Jinja2 template,
``propdesk/templates/pages/<page>.html`` on one base layout, with its words in the labels
catalog (see ``propdesk.rendering``); every value from data or configuration is autoescaped.
This module only works out the locale and the page's links. The not-found page depends on
the locale alone, so it is the same for every refused link and reveals nothing about other units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from propdesk.config import LOCALES, PropertyConfig
from propdesk.domain.banks import CN_BANKS
from propdesk.domain.standards import StandardVersion, in_force
from propdesk.formatting import format_date, format_period
from propdesk.payments.links import pay_path
from propdesk.rendering import catalog, render_template

if TYPE_CHECKING:
    from propdesk.services.accounts import AccountView

__all__ = [
    "choose_locale",
    "format_date",
    "format_period",
    "labels",
    "render_account_page",
    "render_error",
    "render_not_found",
    "render_renew_sent",
    "render_return_page",
    "render_standard_not_found",
    "render_standard_page",
    "standard_path",
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


def render_account_page(
    view: AccountView,
    *,
    config: PropertyConfig,
    locale: str,
    token: str,
    today: date,
    notice: str | None = None,
    visit_days: Sequence[date] = (),
) -> str:
    """The owner's account: amount due and Pay first, the open bills, credit, payment history.

    ``notice`` is an optional page label key shown at the top (e.g. ``"unavailable_body"``)."""
    locale = _known(locale)

    def receipt_url(payment_id: str) -> str:
        return (
            f"{pay_path(token, '/payments/' + quote(payment_id, safe='') + '/receipt')}?lang={quote(locale)}"
        )

    def invoice_url(payment_id: str) -> str:
        return pay_path(token, "/payments/" + quote(payment_id, safe="") + "/invoice")

    return _page(
        "account.html",
        locale,
        config,
        view=view,
        today=today,
        notice=notice,
        switch=_language_switch(token, locale),
        checkout_url=pay_path(token, "/checkout"),
        pay_options=[
            {"rail": rail, "url": pay_path(token, "/checkout" if rail == "stripe" else "/orders")}
            for rail in config.payment.rails
        ],
        receipt_url=receipt_url,
        visits_url=pay_path(token, "/visits"),
        invoice_url=invoice_url,
        visit_days=visit_days,
        debit_url=pay_path(token, "/debit"),
        autopay_url=pay_path(token, "/autopay"),
        banks=CN_BANKS,
    )


def render_return_page(
    view: AccountView, *, config: PropertyConfig, locale: str, token: str, confirmed: bool
) -> str:
    """After Checkout: thank the owner and say whether the payment is confirmed yet."""
    locale = _known(locale)
    return _page(
        "return.html",
        locale,
        config,
        view=view,
        confirmed=confirmed,
        switch=_language_switch(token, locale, "/return"),
        back_url=f"{pay_path(token)}?lang={quote(locale)}",
    )


def render_order_page(
    view: AccountView,
    order: Any,
    *,
    config: PropertyConfig,
    locale: str,
    token: str,
    receipt_no: str | None,
) -> str:
    """An order at WeChat Pay or Alipay: its QR code (drawn here, as SVG) while open and started
    on a desktop, the receipt number once paid, a way back once closed."""
    import segno
    from markupsafe import Markup

    locale = _known(locale)
    suffix = f"/orders/{quote(order.order_id, safe='')}"
    qr_svg = None
    if order.state == "open" and order.device == "desktop" and order.start_url:
        # segno writes the SVG itself from the code's text: nothing of the text reaches the markup.
        qr_svg = Markup(segno.make(order.start_url, error="m").svg_inline(scale=5, title=order.order_id))  # noqa: S704
    return _page(
        "order.html",
        locale,
        config,
        view=view,
        order=order,
        qr_svg=qr_svg,
        receipt_no=receipt_no,
        switch=_language_switch(token, locale, suffix),
        refresh_url=f"{pay_path(token, suffix)}?lang={quote(locale)}",
        back_url=f"{pay_path(token)}?lang={quote(locale)}",
    )


RENEW_PATH = "/pay/renew"


def render_not_found(locale: str, config: PropertyConfig | None = None) -> str:
    """The one page for every refused link, in both languages (``locale`` first): the property's
    phone, and a form to ask for a fresh link. Nothing on it depends on the link."""
    locale = _known(locale)
    return _page("not_found.html", locale, config, other=labels(_other_locale(locale)), renew_url=RENEW_PATH)


def render_renew_sent(locale: str, config: PropertyConfig) -> str:
    """The answer to a fresh-link request: the same page whether or not a link was sent."""
    locale = _known(locale)
    return _page("renew_sent.html", locale, config, other=labels(_other_locale(locale)))


def render_error(locale: str, *, message_key: str = "error_body") -> str:
    return _page("error.html", locale, message_key=message_key)


def standard_path(version: str, suffix: str = "", *, locale: str | None = None) -> str:
    """A fee standard version's public page (or its printable notice, ``/notice``)."""
    path = f"/standards/{quote(version, safe='')}{suffix}"
    return f"{path}?lang={quote(locale)}" if locale else path


def render_standard_page(
    version: StandardVersion,
    versions: Sequence[StandardVersion],
    *,
    config: PropertyConfig,
    locale: str,
    today: date,
) -> str:
    """A published fee standard for everyone (F1): the property, the version and its effective
    date, legal basis, each item's basis and rate, the cost breakdown, the publication, the
    printable notice, and every published version with its dates (which is in force today)."""
    locale = _known(locale)
    published = [v for v in versions if v.published]
    current = in_force(published, today)

    def state(other: StandardVersion) -> str:
        if current is not None and other.version == current.version:
            return "in_force"
        return "upcoming" if other.effective_from > today else "superseded"

    return _page(
        "standard.html",
        locale,
        config,
        standard=version,
        basis_lines=version.basis_lines(locale),
        history=[
            {"version": v, "state": state(v), "href": standard_path(v.version, locale=locale)}
            for v in sorted(published, key=lambda v: v.effective_from, reverse=True)
        ],
        pdf_url=standard_path(version.version, "/notice", locale=locale),
        switch={
            "href": standard_path(version.version, locale=_other_locale(locale)),
            "lang": _other_locale(locale),
        },
    )


def render_standard_not_found(locale: str, config: PropertyConfig, current: str | None) -> str:
    """No published version with this id (unknown, or still a draft): the same page either way."""
    locale = _known(locale)
    return _page(
        "standard_not_found.html",
        locale,
        config,
        current_url=standard_path(current, locale=locale) if current else None,
    )
