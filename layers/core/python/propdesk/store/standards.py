"""The fee standard's versions in DynamoDB (``StandardItem``, the ``standards`` table).

Every version of the property's standard is in one partition, so all of them are one Query.
Each write is conditional: a new version only if none has its id, a draft replaced only under
the row version read, and a publication only while the item is still a draft under that row
version, so two publishes at once cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from propdesk.domain.standards import DRAFT, StandardVersion
from propdesk.store.conditions import written
from propdesk.store.models import StandardItem

FEE = "fee"  # the partition of the fee standard's versions


@dataclass(frozen=True)
class StoredVersion:
    version: StandardVersion
    row_version: int


def _item(version: StandardVersion, *, now: datetime, row_version: int | None) -> StandardItem:
    item = StandardItem(
        kind=FEE,
        version=version.version,
        status=version.status,
        effective_from=version.effective_from.isoformat(),
        body=version.model_dump_json(),
        updated_at=now.astimezone(UTC),
    )
    if row_version is not None:
        item.row_version = row_version
    return item


def _stored(item: StandardItem) -> StoredVersion:
    return StoredVersion(StandardVersion.model_validate_json(item.body), int(item.row_version or 0))


class StandardRepository:
    def all(self) -> list[StoredVersion]:
        """Every stored version, drafts included, in one Query (strongly consistent)."""
        return [_stored(item) for item in StandardItem.query(FEE, consistent_read=True)]

    def get(self, version: str) -> StoredVersion | None:
        try:
            return _stored(StandardItem.get(FEE, version, consistent_read=True))
        except StandardItem.DoesNotExist:
            return None

    def create(self, version: StandardVersion, *, now: datetime) -> bool:
        """Store a new version; False when one with its id exists."""
        return written(lambda: _item(version, now=now, row_version=None).save())

    def replace(self, version: StandardVersion, *, row_version: int, now: datetime) -> bool:
        """Replace a draft read at ``row_version``; False when it changed or was published since."""
        item = _item(version, now=now, row_version=row_version)
        return written(lambda: item.save(condition=StandardItem.status == DRAFT))
