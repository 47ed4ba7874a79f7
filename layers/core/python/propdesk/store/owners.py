"""Owners in DynamoDB. Names, phones and emails are personal data: never logged."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from propdesk.domain.units import Owner
from propdesk.store.models import OwnerItem

BATCH_GET_LIMIT = 100


def to_item(owner: Owner, *, updated_at: datetime) -> OwnerItem:
    return OwnerItem(
        owner_id=owner.owner_id,
        name=owner.name,
        phone=owner.phone,
        email=owner.email,
        locale=owner.locale,
        sms_consent=owner.sms_consent,
        updated_at=updated_at,
    )


def from_item(item: OwnerItem) -> Owner:
    return Owner(
        owner_id=item.owner_id,
        name=item.name,
        phone=item.phone or None,
        email=item.email or None,
        locale=item.locale or "zh-CN",
        sms_consent=bool(item.sms_consent),
    )


class OwnerRepository:
    def get(self, owner_id: str) -> Owner | None:
        try:
            return from_item(OwnerItem.get(owner_id))
        except OwnerItem.DoesNotExist:
            return None

    def get_many(self, owner_ids: Iterable[str]) -> dict[str, Owner]:
        ids = list(dict.fromkeys(owner_ids))
        found: dict[str, Owner] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            for item in OwnerItem.batch_get(ids[start : start + BATCH_GET_LIMIT]):
                found[item.owner_id] = from_item(item)
        return found

    def put(self, owner: Owner, *, updated_at: datetime) -> None:
        to_item(owner, updated_at=updated_at).save()

    def put_many(self, owners: Iterable[Owner], *, updated_at: datetime) -> None:
        with OwnerItem.batch_write() as batch:
            for owner in owners:
                batch.save(to_item(owner, updated_at=updated_at))
