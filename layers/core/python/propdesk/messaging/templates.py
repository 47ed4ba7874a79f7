"""Message templates in zh-CN and en: a subject, a plain-text and an HTML body, and a short SMS.

A template turns the request's context (ids, amounts in minor units, ISO dates) and the
property's configuration (fee item names, front desk, bank account) into words in the
recipient's locale. Amounts are formatted from integers, never through floats.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from propdesk.config import PropertyConfig
from propdesk.domain.money import Money

ZH = "zh-CN"


class TemplateError(ValueError):
    """The context lacks what the template needs (a bug upstream: the message is retried, then dead-lettered)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


@dataclass(frozen=True)
class _Body:
    subject: str
    greeting: str
    intro: str
    rows: list[tuple[str, str]]
    after: list[str] = field(default_factory=list)
    link: tuple[str, str] | None = None  # (label, url)
    sms: str = ""


def _zh(locale: str) -> bool:
    return locale == ZH


def _money(minor: Any, currency: Any) -> str:
    return Money(int(minor), str(currency)).format()


def _period(period: str, locale: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    if _zh(locale):
        return f"{year}年{month}月"
    return date(year, month, 1).strftime("%B %Y")


def _date(iso: str, locale: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日" if _zh(locale) else f"{day.day} {day.strftime('%B %Y')}"


def _local_time(iso: str, config: PropertyConfig) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise TemplateError("timestamps must carry a time zone")
    local = moment.astimezone(config.tz)
    return f"{local:%Y-%m-%d %H:%M} ({config.time_zone})"


def _item_name(code: str, locale: str, config: PropertyConfig) -> str:
    for item in config.fee_standard.items:
        if item.code == code:
            return item.name.get(locale)
    return code


def _channels_to_pay(locale: str, unit_id: str, config: PropertyConfig) -> list[str]:
    desk = config.payment.front_desk
    lines = [
        (f"前台缴费：{desk.place.get(locale)}，{desk.hours.get(locale)}")
        if _zh(locale)
        else f"At the front desk: {desk.place.get(locale)}, {desk.hours.get(locale)}"
    ]
    bank = config.payment.bank_account
    if bank is not None:
        if _zh(locale):
            lines.append(
                f"银行转账：{bank.bank.get(locale)}，户名 {bank.account_name}，账号 {bank.account_number}，"
                f"请在附言中注明房号 {unit_id}"
            )
        else:
            lines.append(
                f"By bank transfer: {bank.bank.get(locale)}, account name {bank.account_name}, "
                f"account number {bank.account_number}; please quote unit {unit_id}"
            )
    return lines


def _bill_notice(ctx: Mapping[str, Any], locale: str, name: str, config: PropertyConfig) -> _Body:
    prop = config.name.get(locale)
    unit, period = ctx["unit_id"], _period(ctx["period"], locale)
    total = _money(ctx["total_minor"], ctx["currency"])
    due = _date(ctx["due_date"], locale)
    rows = [
        (_item_name(line["code"], locale, config), _money(line["amount_minor"], ctx["currency"]))
        for line in ctx["lines"]
    ]
    version = ctx.get("fee_standard_version")
    if _zh(locale):
        rows += [("合计", total), ("缴费截止日", due)]
        after = _channels_to_pay(locale, unit, config)
        if version:
            after.append(f"本账单依据已公示的收费标准（版本 {version}）计算。")
        return _Body(
            subject=f"【{prop}】{unit} {period}物业费缴费通知",
            greeting=f"尊敬的{name}业主：",
            intro=f"您的房屋 {unit} {period}的物业管理费账单如下，请于 {due} 前缴纳。",
            rows=rows,
            after=after,
            link=("在线缴费", ctx["pay_url"]),
            sms=f"【{prop}】{unit} {period}物业费{total}，请于{due}前缴纳：{ctx['pay_url']}",
        )
    rows += [("Total", total), ("Due date", due)]
    after = _channels_to_pay(locale, unit, config)
    if version:
        after.append(f"This bill follows the published fee standard, version {version}.")
    return _Body(
        subject=f"{prop}: property fee notice for {unit}, {period}",
        greeting=f"Dear {name},",
        intro=f"Here is the property management fee bill of unit {unit} for {period}. Please pay by {due}.",
        rows=rows,
        after=after,
        link=("Pay online", ctx["pay_url"]),
        sms=f"{prop}: property fee for {unit}, {period}: {total}, due {due}. Pay: {ctx['pay_url']}",
    )


def _payment_receipt(ctx: Mapping[str, Any], locale: str, name: str, config: PropertyConfig) -> _Body:
    prop = config.name.get(locale)
    unit, period = ctx["unit_id"], _period(ctx["period"], locale)
    amount = _money(ctx["amount_minor"], ctx["currency"])
    paid = _local_time(ctx["paid_at"], config)
    receipt = ctx["receipt_no"]
    if _zh(locale):
        return _Body(
            subject=f"【{prop}】缴费收据 {receipt}",
            greeting=f"尊敬的{name}业主：",
            intro=f"已收到您的房屋 {unit} {period}物业费，谢谢！",
            rows=[
                ("收据号", receipt),
                ("房屋", unit),
                ("账单期间", period),
                ("金额", amount),
                ("付款时间", paid),
            ],
            after=["请妥善保存本收据。如有疑问，请联系物业服务中心。"],
            sms=f"【{prop}】已收到{unit} {period}物业费{amount}，收据号{receipt}，谢谢！",
        )
    return _Body(
        subject=f"{prop}: receipt {receipt}",
        greeting=f"Dear {name},",
        intro=f"Thank you: we have received the property fee of unit {unit} for {period}.",
        rows=[
            ("Receipt no.", receipt),
            ("Unit", unit),
            ("Period", period),
            ("Amount", amount),
            ("Paid", paid),
        ],
        after=["Please keep this receipt. For any question, contact the property service centre."],
        sms=f"{prop}: received {amount} for {unit}, {period}. Receipt {receipt}. Thank you!",
    )


def _overdue_reminder(ctx: Mapping[str, Any], locale: str, name: str, config: PropertyConfig) -> _Body:
    prop = config.name.get(locale)
    unit, period = ctx["unit_id"], _period(ctx["period"], locale)
    amount = _money(ctx["total_minor"], ctx["currency"])
    due = _date(ctx["due_date"], locale)
    desk = config.payment.front_desk
    link = ctx.get("pay_url")
    if _zh(locale):
        return _Body(
            subject=f"【{prop}】温馨提醒：{unit} {period}物业费尚未缴纳",
            greeting=f"尊敬的{name}业主：",
            intro=f"您的房屋 {unit} {period}的物业费已于 {due} 到期，我们尚未收到您的缴费。如您已缴纳，请忽略本提醒。",
            rows=[("房屋", unit), ("账单期间", period), ("应缴金额", amount), ("截止日", due)],
            after=[
                *_channels_to_pay(locale, unit, config),
                f"如对服务或账单有疑问，欢迎联系物业服务中心（{desk.place.get(locale)}，{desk.hours.get(locale)}），我们会尽快核实处理。",
            ],
            link=("在线缴费", link) if link else None,
            sms=f"【{prop}】温馨提醒：{unit} {period}物业费{amount}已于{due}到期，如已缴纳请忽略。"
            + (f"缴费：{link}" if link else ""),
        )
    return _Body(
        subject=f"{prop}: friendly reminder, property fee for {unit}, {period}",
        greeting=f"Dear {name},",
        intro=f"The property fee of unit {unit} for {period} was due on {due} and we have not received it yet. "
        "If you have already paid, please ignore this reminder.",
        rows=[("Unit", unit), ("Period", period), ("Amount due", amount), ("Due date", due)],
        after=[
            *_channels_to_pay(locale, unit, config),
            "If you have a question about the service or the bill, please contact the property service centre "
            f"({desk.place.get(locale)}, {desk.hours.get(locale)}); we will look into it promptly.",
        ],
        link=("Pay online", link) if link else None,
        sms=f"{prop}: reminder, the property fee for {unit}, {period} ({amount}) was due {due}. "
        "Ignore if paid." + (f" Pay: {link}" if link else ""),
    )


_KINDS = {
    "repair": ("维修", "Repair"),
    "consultation": ("咨询", "Consultation"),
    "complaint": ("投诉", "Complaint"),
    "suggestion": ("建议", "Suggestion"),
}


def _work_order(ctx: Mapping[str, Any], locale: str, name: str, config: PropertyConfig) -> _Body:
    prop = config.name.get(locale)
    zh = _zh(locale)
    kind = _KINDS.get(ctx["kind"], (ctx["kind"], ctx["kind"]))[0 if zh else 1]
    urgent = bool(ctx.get("emergency"))
    due = _local_time(ctx["due_at"], config)
    unit = ctx.get("unit_id") or ("（无）" if zh else "(none)")
    ticket = ctx["ticket_id"]
    if zh:
        tag = "【紧急】" if urgent else ""
        return _Body(
            subject=f"{tag}【{prop}】工单 {ticket}：{kind}（{ctx['category']}）",
            greeting=f"{name}：",
            intro="请接收以下工单，尽快联系业主并在完成时限前处理。",
            rows=[
                ("工单号", ticket),
                ("类型", kind),
                ("类别", ctx["category"]),
                ("房屋", unit),
                ("优先级", ctx.get("priority", "")),
                ("派单时间", _local_time(ctx["dispatched_at"], config)),
                ("完成时限", due),
                ("问题描述", ctx["summary"]),
            ],
            sms=f"{tag}工单{ticket} {kind} {unit}，时限{due}",
        )
    tag = "[URGENT] " if urgent else ""
    return _Body(
        subject=f"{tag}{prop}: work order {ticket}: {kind} ({ctx['category']})",
        greeting=f"{name},",
        intro="Please take this work order, contact the owner soon and finish it before the deadline.",
        rows=[
            ("Work order", ticket),
            ("Type", kind),
            ("Category", ctx["category"]),
            ("Unit", unit),
            ("Priority", ctx.get("priority", "")),
            ("Dispatched", _local_time(ctx["dispatched_at"], config)),
            ("Complete by", due),
            ("Description", ctx["summary"]),
        ],
        sms=f"{tag}Work order {ticket} {kind} {unit}, by {due}",
    )


_TEMPLATES: dict[str, Callable[[Mapping[str, Any], str, str, PropertyConfig], _Body]] = {
    "bill_notice": _bill_notice,
    "payment_receipt": _payment_receipt,
    "overdue_reminder": _overdue_reminder,
    "work_order": _work_order,
}
TEMPLATE_NAMES = tuple(_TEMPLATES)


def _text(body: _Body) -> str:
    parts = [body.greeting, "", body.intro, ""]
    parts += [f"{label}: {value}" for label, value in body.rows]
    if body.link:
        parts += ["", f"{body.link[0]}: {body.link[1]}"]
    if body.after:
        parts += ["", *body.after]
    return "\n".join(parts) + "\n"


def _html(body: _Body, locale: str) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in body.rows
    )
    link = ""
    if body.link:
        link = f'<p><a href="{e(body.link[1], quote=True)}">{e(body.link[0])}</a></p>'
    after = "".join(f"<p>{e(line)}</p>" for line in body.after)
    return (
        f'<!doctype html><html lang="{e(locale)}"><head><meta charset="utf-8"><title>{e(body.subject)}</title>'
        f"</head><body><p>{e(body.greeting)}</p><p>{e(body.intro)}</p><table>{rows}</table>{link}{after}"
        "</body></html>"
    )


def render(
    template: str, *, locale: str, context: Mapping[str, Any], recipient_name: str, config: PropertyConfig
) -> Rendered:
    build = _TEMPLATES.get(template)
    if build is None:
        raise TemplateError(f"unknown template {template!r}")
    locale = locale if locale in ("zh-CN", "en") else config.default_locale
    try:
        body = build(context, locale, recipient_name, config)
    except (KeyError, TypeError, ValueError) as exc:
        raise TemplateError(
            f"{template}: context incomplete or malformed ({type(exc).__name__}: {exc})"
        ) from exc
    return Rendered(subject=body.subject, text=_text(body), html=_html(body, locale), sms=body.sms)
