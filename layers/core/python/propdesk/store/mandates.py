"""Direct-debit mandates in DynamoDB (``MandateItem``): one per unit and kind, changed under its
version; the mandates in force are listed through the sparse ``active-index``, never a scan."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from propdesk.store.conditions import written
from propdesk.store.indexed import read_back
from propdesk.store.models import MandateItem

ACTIVE = "active"
CANCELLED = "cancelled"
DEBIT = "debit"
CARD = "card"


@dataclass(frozen=True)
class Mandate:
    unit_id: str
    owner_id: str | None
    bank: str
    holder_masked: str
    account_masked: str
    ciphertext: str  # base64; the holder's name and the account number, under the mandates key
    created_at: datetime
    state: str = ACTIVE
    kind: str = DEBIT
    cancelled_at: datetime | None = None
    customer_id: str | None = None  # card: the Stripe customer
    payment_method_id: str | None = None  # card: the saved card
    version: int | None = field(default=None, compare=False)

    @property
    def active(self) -> bool:
        return self.state == ACTIVE


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_item(mandate: Mandate) -> MandateItem:
    item = MandateItem(
        unit_id=mandate.unit_id,
        kind=mandate.kind,
        state=mandate.state,
        owner_id=mandate.owner_id,
        bank=mandate.bank,
        holder_masked=mandate.holder_masked,
        account_masked=mandate.account_masked,
        ciphertext=mandate.ciphertext,
        created_at=_utc(mandate.created_at),
        cancelled_at=_utc(mandate.cancelled_at) if mandate.cancelled_at else None,
        active_kind=mandate.kind if mandate.active else None,
        customer_id=mandate.customer_id,
        payment_method_id=mandate.payment_method_id,
    )
    if mandate.version is not None:
        item.version = mandate.version
    return item


def from_item(item: MandateItem) -> Mandate:
    return Mandate(
        unit_id=item.unit_id,
        owner_id=item.owner_id,
        bank=item.bank,
        holder_masked=item.holder_masked,
        account_masked=item.account_masked,
        ciphertext=item.ciphertext,
        created_at=_utc(item.created_at),
        state=item.state,
        kind=item.kind,
        cancelled_at=_utc(item.cancelled_at) if item.cancelled_at else None,
        customer_id=item.customer_id,
        payment_method_id=item.payment_method_id,
        version=item.version,
    )


class MandateRepository:
    def get(self, unit_id: str, kind: str = DEBIT) -> Mandate | None:
        try:
            return from_item(MandateItem.get(unit_id, kind, consistent_read=True))
        except MandateItem.DoesNotExist:
            return None

    def save(self, mandate: Mandate) -> Mandate | None:
        """Write under its version (a new one: only if none exists); None if it changed meanwhile."""
        item = to_item(mandate)
        return from_item(item) if written(item.save) else None

    def active(self, kind: str = DEBIT) -> Iterator[Mandate]:
        found = MandateItem.active_index.query(kind)
        yield from map(from_item, read_back(MandateItem, found, where=("active_kind", kind)))
