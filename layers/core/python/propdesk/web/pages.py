"""The owner's pay pages: bill, return from Checkout, and the one generic "link not valid" page.

Pure rendering: values in, an HTML string out. Every value that comes from data or
configuration goes through ``html.escape``; only the fixed labels below are trusted. The
not-found page is the same for every refused link, so it reveals nothing about other units.
"""

from __future__ import annotations

from datetime import date
from html import escape
from urllib.parse import quote

from propdesk.config import LOCALES, PropertyConfig
from propdesk.domain.billing import Bill, BillLine
from propdesk.domain.money import Money

LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "html_lang": "zh-CN",
        "bill_title": "物业管理费账单",
        "unit": "房号",
        "period": "账期",
        "due_date": "缴费截止日",
        "fee_standard": "收费标准版本",
        "item": "收费项目",
        "basis": "计费依据",
        "amount": "金额",
        "total": "应缴合计",
        "status": "状态",
        "status_open": "待缴费",
        "status_paid": "已缴清",
        "paid_on": "缴费日期",
        "receipt_no": "收据编号",
        "pay": "在线支付",
        "pay_note": "点击后将跳转到安全的支付页面（Stripe）。",
        "other_channels": "其他缴费方式",
        "front_desk": "物业服务中心前台",
        "hours": "办公时间",
        "bank_transfer": "银行转账",
        "bank": "开户行",
        "account_name": "户名",
        "account_number": "账号",
        "bank_note": "转账时请备注房号和账期。",
        "per_m2": "{area} m² × {rate}/m²",
        "per_unit": "每户 {rate}",
        "not_found_title": "链接无效",
        "not_found_body": "此缴费链接无效或已过期。请联系物业服务中心获取新的缴费链接。",
        "thanks_title": "感谢您的缴费",
        "thanks_paid": "付款已确认，电子收据将通过短信或邮件发送给您。",
        "thanks_processing": "您的付款正在确认中，确认后我们会发送电子收据。请勿重复付款。",
        "back_to_bill": "返回账单",
        "error_title": "无法处理请求",
        "error_body": "请求无法处理，请稍后重试或联系物业服务中心。",
        "unavailable_body": "支付服务暂时不可用，请稍后重试，或通过以下其他方式缴费。",
        "switch_language": "English",
    },
    "en": {
        "html_lang": "en",
        "bill_title": "Property management fee bill",
        "unit": "Unit",
        "period": "Billing period",
        "due_date": "Due date",
        "fee_standard": "Fee standard version",
        "item": "Item",
        "basis": "Basis",
        "amount": "Amount",
        "total": "Total due",
        "status": "Status",
        "status_open": "Unpaid",
        "status_paid": "Paid",
        "paid_on": "Paid on",
        "receipt_no": "Receipt number",
        "pay": "Pay online",
        "pay_note": "You will be taken to a secure payment page (Stripe).",
        "other_channels": "Other ways to pay",
        "front_desk": "Front desk",
        "hours": "Opening hours",
        "bank_transfer": "Bank transfer",
        "bank": "Bank",
        "account_name": "Account name",
        "account_number": "Account number",
        "bank_note": "Please quote your unit and the billing period with the transfer.",
        "per_m2": "{area} m² × {rate}/m²",
        "per_unit": "{rate} per unit",
        "not_found_title": "Link not valid",
        "not_found_body": "This payment link is not valid or has expired. "
        "Please contact the property service centre for a new link.",
        "thanks_title": "Thank you",
        "thanks_paid": "Your payment is confirmed. Your e-receipt is on its way by SMS or email.",
        "thanks_processing": "Your payment is being confirmed; we will send your e-receipt once it is. "
        "Please do not pay again.",
        "back_to_bill": "Back to the bill",
        "error_title": "Request not accepted",
        "error_body": "The request could not be processed. Please try again later or contact the front desk.",
        "unavailable_body": "Online payment is unavailable at the moment. Please try again later, "
        "or use one of the other ways to pay below.",
        "switch_language": "中文",
    },
}

_STYLE = (
    "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
    "max-width:42rem;margin:1.5rem auto;padding:0 1rem;color:#1d2630;line-height:1.5}"
    "table{border-collapse:collapse;width:100%}th,td{padding:.4rem;border-bottom:1px solid #dde3ea;"
    "text-align:left}td.amount,th.amount{text-align:right;white-space:nowrap}"
    ".total td{font-weight:700}.paid{color:#19703a;font-weight:700}.open{color:#a4500f;font-weight:700}"
    "button{font-size:1.1rem;padding:.6rem 1.6rem;background:#2457c5;color:#fff;border:0;border-radius:.3rem}"
    ".note{color:#5b6672;font-size:.9rem}nav{text-align:right}"
)


def choose_locale(requested: str | None, owner_locale: str | None, default: str) -> str:
    """``?lang=`` first, then the owner's locale, then the property's default."""
    for candidate in (requested, owner_locale, default):
        if candidate in LOCALES:
            return candidate  # type: ignore[return-value]
    return "zh-CN"


def labels(locale: str) -> dict[str, str]:
    return LABELS.get(locale, LABELS["zh-CN"])


def format_period(period: str, locale: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    if locale == "zh-CN":
        return f"{year}年{month}月"
    return date(year, month, 1).strftime("%B %Y")


def format_date(day: date, locale: str) -> str:
    if locale == "zh-CN":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day.strftime('%B %Y')}"


def _other_locale(locale: str) -> str:
    return "en" if locale == "zh-CN" else "zh-CN"


def _page(title: str, body: str, locale: str) -> str:
    lang = escape(labels(locale)["html_lang"])
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _line_basis(line: BillLine, currency: str, text: dict[str, str]) -> str:
    rate = Money(line.rate_minor, currency).format()
    if line.basis == "per_m2":
        area = f"{line.quantity // 100}.{line.quantity % 100:02d}"
        return text["per_m2"].format(area=area, rate=rate)
    return text["per_unit"].format(rate=rate)


def _item_name(code: str, config: PropertyConfig, locale: str) -> str:
    for item in config.fee_standard.items:
        if item.code == code:
            return item.name.get(locale)
    return code


def _other_channels(config: PropertyConfig, locale: str, text: dict[str, str]) -> str:
    desk = config.payment.front_desk
    parts = [
        f"<h2>{escape(text['other_channels'])}</h2><dl>",
        f"<dt>{escape(text['front_desk'])}</dt><dd>{escape(desk.place.get(locale))}<br>"
        f"{escape(text['hours'])}: {escape(desk.hours.get(locale))}</dd>",
    ]
    bank = config.payment.bank_account
    if bank is not None:
        parts.append(
            f"<dt>{escape(text['bank_transfer'])}</dt><dd>"
            f"{escape(text['bank'])}: {escape(bank.bank.get(locale))}<br>"
            f"{escape(text['account_name'])}: {escape(bank.account_name)}<br>"
            f"{escape(text['account_number'])}: {escape(bank.account_number)}<br>"
            f'<span class="note">{escape(text["bank_note"])}</span></dd>'
        )
    parts.append("</dl>")
    return "".join(parts)


def _language_link(token: str, locale: str, suffix: str = "") -> str:
    other = _other_locale(locale)
    href = f"/pay/{quote(token, safe='')}{suffix}?lang={quote(other)}"
    return f'<nav><a href="{escape(href)}" hreflang="{escape(other)}">{escape(labels(other)["switch_language"])}</a></nav>'


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
    text = labels(locale)
    total = Money(bill.total_minor, bill.currency).format()
    property_name = config.name.get(locale)
    rows = "".join(
        f"<tr><td>{escape(_item_name(line.code, config, locale))}</td>"
        f"<td>{escape(_line_basis(line, bill.currency, text))}</td>"
        f'<td class="amount">{escape(Money(line.amount_minor, bill.currency).format())}</td></tr>'
        for line in bill.lines
    )
    facts = [
        (text["unit"], bill.unit_id),
        (text["period"], format_period(bill.period, locale)),
        (text["due_date"], format_date(bill.due_date, locale)),
        (text["fee_standard"], bill.fee_standard_version),
    ]
    if bill.is_open:
        status = f'<span class="open">{escape(text["status_open"])}</span>'
    else:
        status = f'<span class="paid">{escape(text["status_paid"])}</span>'
        if bill.paid_at is not None:
            facts.append((text["paid_on"], format_date(bill.paid_at.astimezone(config.tz).date(), locale)))
        if bill.receipt_no:
            facts.append((text["receipt_no"], bill.receipt_no))
    facts_html = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    action = ""
    if bill.is_open:
        form_action = f"/pay/{quote(token, safe='')}/checkout"
        action = (
            f'<form method="post" action="{escape(form_action)}">'
            f'<input type="hidden" name="lang" value="{escape(locale)}">'
            f'<button type="submit">{escape(text["pay"])} {escape(total)}</button></form>'
            f'<p class="note">{escape(text["pay_note"])}</p>'
        )
    notice_html = f'<p class="open" role="alert">{escape(text[notice])}</p>' if notice else ""
    body = (
        f"{_language_link(token, locale)}"
        f"<h1>{escape(property_name)}</h1><h2>{escape(text['bill_title'])}</h2>"
        f"{notice_html}"
        f"<dl>{facts_html}<dt>{escape(text['status'])}</dt><dd>{status}</dd></dl>"
        f"<table><thead><tr><th>{escape(text['item'])}</th><th>{escape(text['basis'])}</th>"
        f'<th class="amount">{escape(text["amount"])}</th></tr></thead><tbody>{rows}</tbody>'
        f'<tfoot><tr class="total"><td colspan="2">{escape(text["total"])}</td>'
        f'<td class="amount">{escape(total)}</td></tr></tfoot></table>'
        f"{action}"
        f"{_other_channels(config, locale, text)}"
    )
    return _page(f"{property_name} · {text['bill_title']}", body, locale)


def render_return_page(bill: Bill, *, config: PropertyConfig, locale: str, token: str) -> str:
    """After Checkout: thank the owner and say whether the payment is confirmed yet."""
    text = labels(locale)
    message = text["thanks_processing"] if bill.is_open else text["thanks_paid"]
    receipt = ""
    if not bill.is_open and bill.receipt_no:
        receipt = f"<p>{escape(text['receipt_no'])}: <strong>{escape(bill.receipt_no)}</strong></p>"
    back = f"/pay/{quote(token, safe='')}?lang={quote(locale)}"
    body = (
        f"{_language_link(token, locale, '/return')}"
        f"<h1>{escape(text['thanks_title'])}</h1>"
        f"<p>{escape(text['unit'])}: {escape(bill.unit_id)} · {escape(format_period(bill.period, locale))} · "
        f"{escape(Money(bill.total_minor, bill.currency).format())}</p>"
        f"<p>{escape(message)}</p>{receipt}"
        f'<p><a href="{escape(back)}">{escape(text["back_to_bill"])}</a></p>'
    )
    return _page(text["thanks_title"], body, locale)


def render_not_found(locale: str) -> str:
    """The one page for every refused link: unknown, altered, expired or for another unit."""
    text = labels(locale)
    body = f"<h1>{escape(text['not_found_title'])}</h1><p>{escape(text['not_found_body'])}</p>"
    return _page(text["not_found_title"], body, locale)


def render_error(locale: str, *, message_key: str = "error_body") -> str:
    text = labels(locale)
    body = f"<h1>{escape(text['error_title'])}</h1><p>{escape(text[message_key])}</p>"
    return _page(text["error_title"], body, locale)
