"""Payment orders in DynamoDB: ``OrderRecord`` and its one mapping to ``OrderItem``.

An order is written before the owner is sent to the provider (so a notification always finds
it), and changes state under its version: open -> paid (a notification or a query found it paid)
or open -> closed (closed at the provider, unpaid). Open orders are listed through ``open-index``
for the active query, never by a scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from propdesk.payments.port import ORDER_CLOSED, ORDER_OPEN, ORDER_PAID
from propdesk.store.conditions import written
from propdesk.store.indexed import read_back
from propdesk.store.models import OrderItem


@dataclass(frozen=True)
class OrderRecord:
    order_id: str
    rail: str
    unit_id: str
    bill_ids: tuple[str, ...]
    amount_minor: int
    currency: str
    state: str
    device: str
    created_at: datetime
    expires_at: datetime
    owner_id: str | None = None
    provider_payment_id: str | None = None
    start_url: str | None = None
    queried_at: datetime | None = None
    version: int | None = field(default=None, compare=False)

    @property
    def is_open(self) -> bool:
        return self.state == ORDER_OPEN


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_item(order: OrderRecord) -> OrderItem:
    item = OrderItem(
        order_id=order.order_id,
        rail=order.rail,
        unit_id=order.unit_id,
        owner_id=order.owner_id,
        bill_ids=list(order.bill_ids),
        amount_minor=order.amount_minor,
        currency=order.currency,
        state=order.state,
        device=order.device,
        created_at=_utc(order.created_at),
        expires_at=_utc(order.expires_at),
        open_rail=order.rail if order.state == ORDER_OPEN else None,
        provider_payment_id=order.provider_payment_id,
        start_url=order.start_url,
        queried_at=_utc(order.queried_at) if order.queried_at else None,
    )
    if order.version is not None:
        item.version = order.version
    return item


def from_item(item: OrderItem) -> OrderRecord:
    return OrderRecord(
        order_id=item.order_id,
        rail=item.rail,
        unit_id=item.unit_id,
        owner_id=item.owner_id,
        bill_ids=tuple(item.bill_ids or ()),
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        state=item.state,
        device=item.device,
        created_at=_utc(item.created_at),
        expires_at=_utc(item.expires_at),
        provider_payment_id=item.provider_payment_id,
        start_url=item.start_url,
        queried_at=_utc(item.queried_at) if item.queried_at else None,
        version=int(item.version) if item.version is not None else None,
    )


class OrderRepository:
    def add(self, order: OrderRecord) -> OrderRecord | None:
        """Write a new order; the order as stored, or None if its id is taken."""
        item = to_item(replace(order, version=None))
        if not written(lambda: item.save(condition=OrderItem.order_id.does_not_exist())):
            return None
        return from_item(item)

    def get(self, order_id: str) -> OrderRecord | None:
        try:
            return from_item(OrderItem.get(order_id, consistent_read=True))
        except OrderItem.DoesNotExist:
            return None

    def save_changed(self, order: OrderRecord) -> bool:
        """Save ``order`` under the version it was read with; False if it moved meanwhile."""
        if order.version is None:
            raise ValueError("an order is changed under the version it was read with")
        return written(to_item(order).save)

    def mark(self, order: OrderRecord, state: str, *, provider_payment_id: str | None, now: datetime) -> bool:
        """open -> paid or closed, once; False if it was not open (or moved) any more."""
        if state not in (ORDER_PAID, ORDER_CLOSED):
            raise ValueError(f"an order is marked paid or closed, not {state!r}")
        item = to_item(order)
        return written(
            lambda: item.update(
                actions=[
                    OrderItem.state.set(state),
                    OrderItem.open_rail.remove(),
                    OrderItem.provider_payment_id.set(provider_payment_id)
                    if provider_payment_id
                    else OrderItem.provider_payment_id.remove(),
                    OrderItem.queried_at.set(_utc(now)),
                ],
                condition=OrderItem.state == ORDER_OPEN,
            )
        )

    def started(self, order: OrderRecord, start_url: str) -> OrderRecord:
        """Note where the provider sends the owner (the order page redraws its QR code from it)."""
        item = to_item(order)
        item.update(actions=[OrderItem.start_url.set(start_url)])
        return from_item(item)

    def touch(self, order: OrderRecord, *, now: datetime) -> None:
        """Note that the provider was asked about it (the active query spaces its questions)."""
        item = to_item(order)
        # Not open any more: nothing to note.
        written(
            lambda: item.update(
                actions=[OrderItem.queried_at.set(_utc(now))], condition=OrderItem.state == ORDER_OPEN
            )
        )

    def open_before(self, rail: str, created_before: datetime) -> Iterator[OrderRecord]:
        """Open orders of ``rail`` created before ``created_before``, oldest first."""
        found = OrderItem.open_index.query(rail, OrderItem.created_at < _utc(created_before))
        yield from map(from_item, read_back(OrderItem, found, where=("open_rail", rail)))
