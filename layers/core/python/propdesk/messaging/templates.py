"""Messages in zh-CN and en: a subject, a plain-text and an HTML body, and a short SMS.

Each message is a folder of Jinja2 templates, ``propdesk/templates/messages/<template>/``
(``subject.txt``, ``text.txt``, ``email.html``, ``sms.txt``), with its words in the labels
catalog (``propdesk/templates/labels/<locale>.toml``); see ``propdesk.rendering``. The request's
context (ids, amounts in minor units, ISO dates) is given to the templates as variables, next
to ``recipient_name``, ``config`` (the property), ``locale`` and ``t`` (the labels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from propdesk.config import LOCALES, PropertyConfig
from propdesk.messaging.sms import choose as choose_sms
from propdesk.rendering import render_template

TEMPLATE_NAMES = (
    "bill_notice",
    "payment_receipt",
    "overdue_reminder",
    "pre_due_reminder",
    "work_order",
    "payment_refunded",
    "payment_failed",
    "pay_link",
    "autopay_notice",
    "bill_voided",
    "standard_published",
)


# Templates that say the same thing with their own words share a folder: the friendly reminder
# before the due date (F3) and the first overdue one (F6) differ only in their labels.
FOLDERS = {"pre_due_reminder": "reminder", "overdue_reminder": "reminder"}


class TemplateError(ValueError):
    """The context lacks what the template needs (a bug upstream: the message is retried, then dead-lettered)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


ShortLink = Callable[[str], str]


def render(
    template: str,
    *,
    locale: str,
    context: Mapping[str, Any],
    recipient_name: str,
    config: PropertyConfig,
    short_link: ShortLink | None = None,
) -> Rendered:
    """The message's four parts. ``short_link`` turns a pay page's URL into a short one for the
    SMS (``sms_link`` in ``sms.txt``); the messenger passes it only when the SMS goes, so an
    e-mail-only message never makes one. Without it the SMS part keeps the full URL. It is called
    at most once per URL, however many wordings ``sms.txt`` offers (``propdesk.messaging.sms``)."""
    if template not in TEMPLATE_NAMES:
        raise TemplateError(f"unknown template {template!r}")
    locale = locale if locale in LOCALES else config.default_locale
    # ``template`` names the labels' section (``t[template]``) a shared folder reads.
    variables = {**context, "recipient_name": recipient_name, "template": template}
    folder = FOLDERS.get(template, template)

    def part(name: str, **extra: Any) -> str:
        return render_template(
            f"messages/{folder}/{name}", {**variables, **extra}, locale=locale, config=config
        )

    made: dict[str, str] = {}

    def sms_link(url: str) -> str:
        if short_link is None:
            return url
        if url not in made:
            made[url] = short_link(url)
        return made[url]

    try:
        subject = part("subject.txt").strip()
        return Rendered(
            subject=subject,
            text=part("text.txt"),
            html=part("email.html", subject=subject),
            sms=choose_sms(part("sms.txt", sms_link=sms_link)),
        )
    except (jinja2.TemplateError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(
            f"{template}: context incomplete or malformed ({type(exc).__name__}: {exc})"
        ) from exc
