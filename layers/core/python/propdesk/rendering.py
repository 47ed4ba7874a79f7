"""The Jinja2 environment of the owner pages and the messages, and the labels catalog.

Templates and catalogs are files under ``propdesk/templates`` (shipped in the core layer, found
next to this module wherever the package is imported from, ``/opt/python`` in Lambda):

- ``labels/<locale>.toml``: every label and sentence, zh-CN and en, with the same keys;
- ``pages/*.html``: the owner's pay pages, on one base layout;
- ``messages/<template>/{subject.txt,text.txt,email.html,sms.txt}``: each message's parts.

``.html`` templates are autoescaped; ``.txt`` ones are not (plain text and SMS carry no HTML
entities). ``StrictUndefined`` makes a missing value an error instead of an empty string.
The environment is built once per process, so a warm Lambda reuses its compiled templates.

Filters (locale, configuration and time zone come from the render's variables):
``money(currency)``, ``month`` (``2026-07``), ``day`` (ISO date), ``local_time`` and
``local_day`` (timestamps, in the property's zone), ``area`` (1/100 m²), ``share`` (basis
points as a percentage), ``local`` (a configured zh-CN/en text), ``fee_item`` (a fee item's
code, named by the bill's fee standard version), ``pay_method`` (a payment method's code),
``short_day`` and ``short_month`` (no year: SMS), ``notice_link(bill_id)`` and
``standard_link(version)`` (pages reached from a pay link), ``label(section)`` (a code in the
catalog's words), and ``fill(**values)``, which
fills a catalog sentence's ``{placeholders}``, escaping both sentence and values in HTML.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    pass_eval_context,
    select_autoescape,
)
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from markupsafe import escape

from propdesk import formatting
from propdesk.config import LOCALES, PropertyConfig
from propdesk.payments import links

__all__ = ["LABELS_DIR", "LOCALES", "TEMPLATES_DIR", "catalog", "environment", "render_template"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LABELS_DIR = TEMPLATES_DIR / "labels"


def _frozen(section: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({k: _frozen(v) if isinstance(v, dict) else v for k, v in section.items()})


@cache
def catalog(locale: str) -> Mapping[str, Any]:
    """The labels and sentences of one locale (``labels/<locale>.toml``), read once, read-only."""
    if locale not in LOCALES:
        raise ValueError(f"no labels for locale {locale!r}")
    with (LABELS_DIR / f"{locale}.toml").open("rb") as file:
        return _frozen(tomllib.load(file))


@pass_eval_context
def _fill(eval_ctx: EvalContext, sentence: str, **values: Any) -> str:
    if eval_ctx.autoescape:
        # escape() turns the sentence into Markup, whose format() escapes every value.
        return escape(sentence).format(**values)
    return sentence.format(**values)


@pass_context
def _month(ctx: Context, period: str) -> str:
    return formatting.format_period(period, ctx["locale"])


@pass_context
def _day(ctx: Context, day: Any) -> str:
    return formatting.format_date(day, ctx["locale"])


@pass_context
def _local_time(ctx: Context, moment: Any) -> str:
    return formatting.format_local_time(moment, ctx["config"].time_zone)


@pass_context
def _local_day(ctx: Context, moment: Any) -> str:
    return formatting.format_date(formatting.local_day(moment, ctx["config"].time_zone), ctx["locale"])


@pass_context
def _local(ctx: Context, text: Any) -> str:
    return text.get(ctx["locale"])


@pass_context
def _fee_item(ctx: Context, code: str, version: str | None = None) -> str:
    """A fee item's name as the bill's fee standard version names it: ``version``, else the
    render's ``fee_standard_version`` (a notice's), else the launch standard's."""
    config = ctx["config"]
    version = version or ctx.get("fee_standard_version") or config.fee_standard.version
    standard = config.fee_standard
    if version != standard.version:
        from propdesk.services.standards import standard_by_version  # reads the store: only when needed

        standard = standard_by_version(version, config) or standard
    for item in (*standard.items, *config.fee_standard.items):
        if item.code == code:
            return item.name.get(ctx["locale"])
    return code


@pass_context
def _short_day(ctx: Context, day: Any) -> str:
    return formatting.format_short_date(day, ctx["locale"])


@pass_context
def _short_month(ctx: Context, period: str) -> str:
    return formatting.format_short_period(period, ctx["locale"])


@pass_context
def _standard_link(ctx: Context, page_url: str, version: str) -> str:
    """The fee standard's public page, in the message's language, on the pay link's site."""
    return links.standard_page_url(page_url, version, ctx["locale"])


@pass_context
def _label(ctx: Context, code: Any, section: str) -> str:
    """A code (a category, a priority, a status) in the message's language, from the catalog's
    ``section`` (dotted, ``work_order.categories``); the code itself when the catalog lacks it."""
    table: Any = catalog(ctx["locale"])
    for name in section.split("."):
        table = table[name]
    return table.get(str(code), str(code))


@pass_context
def _pay_method(ctx: Context, method: str) -> str:
    """A payment method's name in the page's language (its code when the catalog lacks it)."""
    return catalog(ctx["locale"])["pay_method"].get(method, method)


@cache
def environment() -> Environment:
    """The one Jinja2 environment of the process."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates never change under a running Lambda: no stat per render
    )
    env.filters.update(
        fill=_fill,
        money=formatting.format_money,
        month=_month,
        day=_day,
        local_time=_local_time,
        local_day=_local_day,
        area=formatting.format_area,
        share=formatting.format_share,
        local=_local,
        fee_item=_fee_item,
        pay_method=_pay_method,
        short_day=_short_day,
        short_month=_short_month,
        notice_link=links.bill_notice_url,
        standard_link=_standard_link,
        label=_label,
    )
    return env


def render_template(
    name: str, variables: Mapping[str, Any], *, locale: str, config: PropertyConfig | None
) -> str:
    """Render one template file with the locale's labels as ``t``.

    ``t``, ``locale`` and ``config`` win over same-named ``variables``.
    """
    template = environment().get_template(name)
    return template.render({**variables, "t": catalog(locale), "locale": locale, "config": config})
