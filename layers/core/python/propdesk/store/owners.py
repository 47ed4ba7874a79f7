"""Owners in DynamoDB. Names, phones and emails are personal data: never logged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from propdesk.domain.billing import Bill
from propdesk.domain.units import ContactMark, Owner
from propdesk.store import bills as bill_store
from propdesk.store.batch import batch_get
from propdesk.store.conditions import written
from propdesk.store.models import BillItem, ContactMarkAttribute, CounterItem, OwnerItem, UnitItem

BATCH_GET_LIMIT = 100
MARKED = "marked"  # the unreachable-index key of an owner with a marked channel

ContactChannel = Literal["email", "phone"]


def contact_counter(owner_id: str, week: str) -> str:
    """The counter of nudges an owner got in an ISO week (counters table)."""
    return f"contacts#{owner_id}#{week}"


def _mark_attribute(mark: ContactMark | None) -> ContactMarkAttribute | None:
    if mark is None:
        return None
    return ContactMarkAttribute(reason=mark.reason, detail=mark.detail, at=mark.at)


def _mark(attribute: ContactMarkAttribute | None) -> ContactMark | None:
    if attribute is None:
        return None
    return ContactMark(reason=attribute.reason, at=attribute.at, detail=attribute.detail)


def to_item(owner: Owner, *, updated_at: datetime) -> OwnerItem:
    return OwnerItem(
        owner_id=owner.owner_id,
        name=owner.name,
        phone=owner.phone,
        email=owner.email,
        locale=owner.locale,
        sms_consent=owner.sms_consent,
        updated_at=updated_at,
        email_mark=_mark_attribute(owner.email_mark),
        phone_mark=_mark_attribute(owner.phone_mark),
        unreachable=MARKED if owner.email_mark or owner.phone_mark else None,
    )


def from_item(item: OwnerItem) -> Owner:
    return Owner(
        owner_id=item.owner_id,
        name=item.name,
        phone=item.phone or None,
        email=item.email or None,
        locale=item.locale or "zh-CN",
        sms_consent=bool(item.sms_consent),
        email_mark=_mark(item.email_mark),
        phone_mark=_mark(item.phone_mark),
    )


@dataclass(frozen=True)
class UnreachableOwner:
    """A line of staff's list: the owner, their units, and each marked channel."""

    owner: Owner
    unit_ids: tuple[str, ...]


class OwnerRepository:
    def get(self, owner_id: str) -> Owner | None:
        try:
            return from_item(OwnerItem.get(owner_id))
        except OwnerItem.DoesNotExist:
            return None

    def get_many(self, owner_ids: Iterable[str]) -> dict[str, Owner]:
        """One BatchGetItem per 100 owners (pynamodb retries the unprocessed keys)."""
        ids = list(dict.fromkeys(owner_ids))
        found: dict[str, Owner] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            for item in OwnerItem.batch_get(ids[start : start + BATCH_GET_LIMIT]):
                found[item.owner_id] = from_item(item)
        return found

    def get_with_counts(
        self, owner_ids: Iterable[str], counters: Iterable[str] = ()
    ) -> tuple[dict[str, Owner], dict[str, int]]:
        """Owners and contact counters together: one BatchGetItem for a batch of messages
        (eventually consistent: a contact count a moment old is good enough for a courtesy cap)."""
        owners, counts, _ = self.for_messages(owner_ids, counters)
        return owners, counts

    def for_messages(
        self, owner_ids: Iterable[str], counters: Iterable[str] = (), bill_ids: Iterable[str] = ()
    ) -> tuple[dict[str, Owner], dict[str, int], dict[str, Bill]]:
        """What a batch of messages reads before sending, in one BatchGetItem: the owners, their
        contact counters and the bills the messages are about. With bills, strongly consistent
        (a bill paid or voided a moment ago drops its message); else eventually consistent (a
        contact count a moment old is good enough for a courtesy cap)."""
        bills = list(dict.fromkeys(bill_ids))
        found = batch_get(
            {
                OwnerItem: [{"owner_id": {"S": o}} for o in dict.fromkeys(owner_ids)],
                CounterItem: [{"name": {"S": c}} for c in dict.fromkeys(counters)],
                BillItem: [{"bill_id": {"S": b}} for b in bills],
            },
            consistent=bool(bills),
        )
        owners = {item.owner_id: from_item(item) for item in found.get(OwnerItem, [])}  # type: ignore[attr-defined]
        counts = {item.name: int(item.value or 0) for item in found.get(CounterItem, [])}  # type: ignore[attr-defined]
        read = {item.bill_id: bill_store.from_item(item) for item in found.get(BillItem, [])}  # type: ignore[attr-defined]
        return owners, counts, read

    def put(self, owner: Owner, *, updated_at: datetime) -> None:
        to_item(owner, updated_at=updated_at).save()

    def put_many(self, owners: Iterable[Owner], *, updated_at: datetime) -> None:
        with OwnerItem.batch_write() as batch:
            for owner in owners:
                batch.save(to_item(owner, updated_at=updated_at))

    def mark(self, owner_id: str, *, channel: ContactChannel, contact: str, mark: ContactMark) -> bool:
        """Mark the owner's address or number, only while it is still ``contact`` (an import may
        have replaced it since the provider reported it). False when the owner or contact
        changed (nothing marked). Marking again overwrites: the latest report stands."""
        attribute = OwnerItem.email_mark if channel == "email" else OwnerItem.phone_mark
        held = OwnerItem.email if channel == "email" else OwnerItem.phone
        item = OwnerItem(owner_id=owner_id)
        return written(
            lambda: item.update(
                actions=[attribute.set(_mark_attribute(mark)), OwnerItem.unreachable.set(MARKED)],
                condition=OwnerItem.owner_id.exists() & (held == contact),
            )
        )

    def unreachable(self) -> list[UnreachableOwner]:
        """Owners with a marked channel and their units: a Query of the sparse index, then one
        BatchGetItem for the owners' details and one keys-only Query per owner for the units
        (the list is short: a bounce is an exception)."""
        ids = [item.owner_id for item in OwnerItem.unreachable_index.query(MARKED)]
        owners = self.get_many(ids)
        return [
            UnreachableOwner(
                owner=owners[owner_id],
                unit_ids=tuple(unit.unit_id for unit in UnitItem.owner_index.query(owner_id)),
            )
            for owner_id in ids
            if owner_id in owners
        ]
