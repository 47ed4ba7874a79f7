"""Payments through the order rails (WeChat Pay, Alipay): start an order, land what the
provider reports, and find what it never reported.

- ``start_order``: the bills a Pay button pays (the same choice as Stripe's checkout), an order
  written *before* the owner is sent to the provider (so every notification finds its order),
  then the provider's QR code or page.
- ``land``: a verified notification or a query's answer. A paid order lands as a payment keyed
  ``<rail>:<out_trade_no>`` (one order pays once, whatever the notifications do), for the
  order's bills, through the same ``record_payment`` as every channel: an amount that differs
  from the order's is a mismatch for staff, money in another currency is set aside; never
  credited as asked. The provider's own id (transaction_id / trade_no) is the payment's reference.
- ``sweep``: the active query (WeChat Pay's integration guide asks for it; Alipay's too). Orders
  still open some minutes after they started are queried: paid ones land; those past their
  expiry are closed at the provider, so they can no longer be paid.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.payments.port import (
    ORDER_CLOSED,
    ORDER_OPEN,
    ORDER_PAID,
    ORDER_REFUNDED,
    Device,
    PaymentProvider,
    PaymentRequest,
    PaymentStart,
    ProviderPayment,
    ProviderRefused,
    ProviderUnavailable,
)
from propdesk.services.payments import IncomingPayment, PaymentOutcome, ReceiptUrl, record_payment
from propdesk.store.orders import OrderRecord, OrderRepository

logger = Logger(child=True)

QUERY_AFTER = timedelta(minutes=5)  # no notification this long after the start: ask
ORDER_LIFETIME = timedelta(minutes=30)  # an order not paid by then is closed


def new_order_id(now: datetime) -> str:
    """``PD`` + the UTC time to the second + 10 random hex digits: 26 characters, letters and
    digits only (both rails take it), sortable by time, never reused."""
    return f"PD{now.astimezone(UTC):%y%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def payment_id_of(rail: str, order_id: str) -> str:
    return f"{rail}:{order_id}"


@dataclass(frozen=True)
class Started:
    order: OrderRecord
    start: PaymentStart


def describe(bills: Iterable[Bill], config: PropertyConfig) -> str:
    """What the owner sees at the provider: the property, the unit and the months paid."""
    bills = list(bills)
    periods = "、".join(b.period for b in bills)
    return f"{config.name.get('zh-CN')} {bills[0].unit_id} 物业费 {periods}"


def start_order(
    bills: list[Bill],
    *,
    provider: PaymentProvider,
    owner_id: str | None,
    device: Device,
    client_ip: str | None,
    notify_url: str,
    return_url: str,
    config: PropertyConfig,
    now: datetime,
    orders: OrderRepository | None = None,
) -> Started:
    """Write the order for ``bills`` (one unit's, owing), then ask the provider to start it."""
    if not bills:
        raise ValueError("an order pays at least one bill")
    orders = orders or OrderRepository()
    amount = sum(b.total_minor - b.paid_minor for b in bills)
    order = OrderRecord(
        order_id=new_order_id(now),
        rail=provider.rail,
        unit_id=bills[0].unit_id,
        owner_id=owner_id,
        bill_ids=tuple(b.bill_id for b in bills),
        amount_minor=amount,
        currency=bills[0].currency,
        state=ORDER_OPEN,
        device=device,
        created_at=now,
        expires_at=now + ORDER_LIFETIME,
    )
    stored = orders.add(order)
    if stored is None:
        raise RuntimeError("order id taken")  # 50 random bits within one second: not expected
    order = stored
    request = PaymentRequest(
        order_id=order.order_id,
        amount_minor=amount,
        currency=order.currency,
        description=describe(bills, config),
        unit_id=order.unit_id,
        bill_ids=order.bill_ids,
        expires_at=order.expires_at,
        notify_url=notify_url,
        return_url=return_url,
        device=device,
        client_ip=client_ip,
    )
    start = provider.start(request)
    order = orders.started(order, start.qr_text or start.redirect_url or "")
    logger.info("order started", order_id=order.order_id, rail=order.rail, device=device, bills=len(bills))
    return Started(order=order, start=start)


@dataclass(frozen=True)
class Landed:
    outcome: str  # unknown_order | not_paid | closed | <record_payment's outcome>
    order: OrderRecord | None = None
    payment: PaymentOutcome | None = None


def land(
    reported: ProviderPayment,
    *,
    config: PropertyConfig,
    now: datetime,
    orders: OrderRepository | None = None,
    record: Callable[..., PaymentOutcome] = record_payment,
    receipt_url: ReceiptUrl | None = None,
) -> Landed:
    """Act on what the provider reports of an order (a verified notification or a query)."""
    orders = orders or OrderRepository()
    order = orders.get(reported.order_id) if reported.order_id else None
    if order is None or order.rail != reported.rail:
        # Not an order of ours (another merchant system, or forged and somehow signed): nothing
        # to credit. The caller acknowledges it and counts it for the alarm.
        logger.warning("notification for an unknown order", rail=reported.rail)
        return Landed("unknown_order")
    if reported.state == ORDER_CLOSED:
        if order.is_open:
            orders.mark(order, ORDER_CLOSED, provider_payment_id=None, now=now)
        return Landed("closed", order)
    if reported.state not in (ORDER_PAID, ORDER_REFUNDED) or not reported.provider_payment_id:
        return Landed("not_paid", order)
    incoming = IncomingPayment(
        payment_id=payment_id_of(order.rail, order.order_id),
        provider=order.rail,
        method=reported.method or order.rail,
        channel="online",
        unit_id=order.unit_id,
        amount_minor=reported.amount_minor,  # as paid: record_payment compares it with the bills
        currency=reported.currency,
        paid_at=reported.paid_at or now,
        targets=order.bill_ids,
        event_id=reported.notification_id,
        reference=reported.provider_payment_id,
        owner_id=order.owner_id,
        unit_known=True,
    )
    if (reported.amount_minor, reported.currency) != (order.amount_minor, order.currency):
        logger.warning(
            "order paid with another amount",
            order_id=order.order_id,
            asked_minor=order.amount_minor,
            paid_minor=reported.amount_minor,
        )
    outcome = record(incoming, config=config, now=now, receipt_url=receipt_url)
    if order.is_open:
        orders.mark(order, ORDER_PAID, provider_payment_id=reported.provider_payment_id, now=now)
    landed = outcome.record
    if landed is not None and landed.reference and landed.reference != reported.provider_payment_id:
        # One out_trade_no, two transactions: the provider never does this; staff must look.
        logger.error("order reported paid by another transaction", order_id=order.order_id)
    return Landed(outcome.outcome, order, outcome)


def refresh(
    order: OrderRecord,
    provider: PaymentProvider,
    *,
    config: PropertyConfig,
    now: datetime,
    orders: OrderRepository | None = None,
    receipt_url: ReceiptUrl | None = None,
) -> OrderRecord:
    """The owner looks at an open order: ask the provider once, land it if paid (a notification
    that is late or lost does not keep the owner waiting), and return it as it now stands."""
    orders = orders or OrderRepository()
    if not order.is_open:
        return order
    try:
        reported = provider.query(order.order_id)
    except (ProviderUnavailable, ProviderRefused) as exc:
        logger.info("order not refreshed", order_id=order.order_id, error=str(exc))
        return order
    if reported is not None and reported.state != ORDER_OPEN:
        land(reported, config=config, now=now, orders=orders, receipt_url=receipt_url)
        return orders.get(order.order_id) or order
    return order


@dataclass
class SweepResult:
    asked: int = 0
    landed: int = 0
    closed: int = 0
    still_open: int = 0
    failed: int = 0


def sweep(
    provider: PaymentProvider,
    *,
    config: PropertyConfig,
    now: datetime,
    orders: OrderRepository | None = None,
    record: Callable[..., PaymentOutcome] = record_payment,
    receipt_url: ReceiptUrl | None = None,
    limit: int = 200,
) -> SweepResult:
    """Ask the provider about the rail's orders open for longer than ``QUERY_AFTER``: land the
    paid ones, close those past their expiry. A provider that cannot be reached leaves them for
    the next sweep."""
    orders = orders or OrderRepository()
    result = SweepResult()
    for order in orders.open_before(provider.rail, now - QUERY_AFTER):
        if result.asked >= limit:
            break
        result.asked += 1
        try:
            reported = provider.query(order.order_id)
            if reported is not None and reported.state in (ORDER_PAID, ORDER_REFUNDED):
                land(reported, config=config, now=now, orders=orders, record=record, receipt_url=receipt_url)
                result.landed += 1
                continue
            if now < order.expires_at:
                orders.touch(order, now=now)
                result.still_open += 1
                continue
            if reported is not None and reported.state == ORDER_OPEN:
                try:
                    provider.close(order.order_id)
                except ProviderRefused:
                    # Paid in the instant between the query and the close: the next sweep lands it.
                    again = provider.query(order.order_id)
                    if again is not None and again.state in (ORDER_PAID, ORDER_REFUNDED):
                        land(
                            again,
                            config=config,
                            now=now,
                            orders=orders,
                            record=record,
                            receipt_url=receipt_url,
                        )
                        result.landed += 1
                        continue
                    raise
            # Closed at the provider now (or never created there: the start failed).
            orders.mark(order, ORDER_CLOSED, provider_payment_id=None, now=now)
            result.closed += 1
        except (ProviderUnavailable, ProviderRefused) as exc:
            logger.warning("order query failed", order_id=order.order_id, error=str(exc))
            result.failed += 1
    logger.info("orders swept", rail=provider.rail, **vars(result))
    return result
