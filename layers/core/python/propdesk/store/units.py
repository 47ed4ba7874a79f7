"""Units in DynamoDB."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from propdesk.domain.units import Unit
from propdesk.store.models import UnitItem

BATCH_GET_LIMIT = 100


def to_item(unit: Unit, *, updated_at: datetime) -> UnitItem:
    return UnitItem(
        unit_id=unit.unit_id,
        building=unit.building,
        floor=unit.floor,
        number=unit.number,
        area_centi_m2=unit.area_centi_m2,
        owner_id=unit.owner_id,
        updated_at=updated_at,
    )


def from_item(item: UnitItem) -> Unit:
    return Unit(
        unit_id=item.unit_id,
        building=item.building,
        floor=int(item.floor),
        number=item.number,
        area_centi_m2=int(item.area_centi_m2),
        owner_id=item.owner_id,
    )


class UnitRepository:
    def get(self, unit_id: str) -> Unit | None:
        try:
            return from_item(UnitItem.get(unit_id))
        except UnitItem.DoesNotExist:
            return None

    def get_many(self, unit_ids: Iterable[str]) -> dict[str, Unit]:
        """The units that exist among ``unit_ids``, by id (missing ids are left out)."""
        ids = list(dict.fromkeys(unit_ids))
        found: dict[str, Unit] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            for item in UnitItem.batch_get(ids[start : start + BATCH_GET_LIMIT]):
                found[item.unit_id] = from_item(item)
        return found

    def ids(self, buildings: Iterable[str]) -> Iterator[str]:
        """Every unit id of these buildings, building by building in unit-id order: a Query of
        the keys-only ``building-index`` per building (DynamoDB pages it by the megabyte), never
        a Scan."""
        for building in buildings:
            for item in UnitItem.building_index.query(building):
                yield item.unit_id

    def pages(self, page_size: int = 50) -> Iterator[list[Unit]]:
        """Every unit, ``page_size`` at a time (a paged scan: the planner needs them all)."""
        last_key = None
        while True:
            result = UnitItem.scan(limit=page_size, last_evaluated_key=last_key, page_size=page_size)
            page = [from_item(item) for item in result]
            if page:
                yield page
            last_key = result.last_evaluated_key
            if not last_key:
                return

    def put(self, unit: Unit, *, updated_at: datetime) -> None:
        to_item(unit, updated_at=updated_at).save()

    def put_many(self, units: Iterable[Unit], *, updated_at: datetime) -> None:
        with UnitItem.batch_write() as batch:
            for unit in units:
                batch.save(to_item(unit, updated_at=updated_at))
