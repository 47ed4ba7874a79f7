"""Import units and owners from the property's CSV (the admin's ``POST /staff/units/import``).

All or nothing: every bad line is reported with its number and reason and nothing is
written, so the admin fixes the file and imports it again. A clean file is upserted
idempotently: importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from aws_lambda_powertools import Logger

from propdesk.config import LOCALES, PropertyConfig
from propdesk.domain.units import Owner, Unit
from propdesk.store.owners import OwnerRepository
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

COLUMNS: tuple[str, ...] = (
    "unit_id",
    "building",
    "floor",
    "number",
    "area_m2",
    "owner_id",
    "owner_name",
    "phone",
    "email",
    "locale",
    "sms_consent",
)
MAX_ROWS = 20_000
MAX_AREA_M2 = Decimal(100_000)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_ASCII_DIGITS = re.compile(r"^[0-9]+$")
_EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_CONSENT = {"yes": True, "no": False}


@dataclass(frozen=True)
class ImportResult:
    created: int  # units new in this import
    updated: int  # units that existed and changed (or whose owner changed)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def is_phone_number(text: str) -> bool:
    """A phone number as SMS needs it: E.164, ASCII digits, and a number that exists (phonenumbers)."""
    if not (text.startswith("+") and _ASCII_DIGITS.match(text[1:]) and len(text) <= 16):
        return False
    import phonenumbers  # here, not at the top: only the units import needs it (16 ms of cold start)

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _parse_row(row: dict[str, str], config: PropertyConfig) -> tuple[Unit, Owner]:
    """One CSV row as a unit and its owner, or ``ValueError`` with the reason (no personal data)."""
    value = {key: (row.get(key) or "").strip() for key in COLUMNS}
    reasons: list[str] = []

    if not _ID_RE.match(value["unit_id"]):
        reasons.append("unit_id must be 1-32 letters, digits, '-' or '_'")
    building = None
    try:
        building = config.building(value["building"])
    except KeyError:
        reasons.append(f"unknown building {value['building'][:16]!r}")
    floor = 0
    if not _ASCII_DIGITS.match(value["floor"]):
        reasons.append("floor must be a whole number written with the digits 0-9")
    else:
        floor = int(value["floor"])
        if building is not None and not 1 <= floor <= building.floors:
            reasons.append(f"floor must be between 1 and {building.floors}")
    if not value["number"] or len(value["number"]) > 16:
        reasons.append("number is required (at most 16 characters)")
    area_centi_m2 = 0
    try:
        if not value["area_m2"].isascii():
            raise InvalidOperation  # Decimal would read other scripts' digits too
        area = Decimal(value["area_m2"])
        if not area.is_finite() or area <= 0 or area > MAX_AREA_M2:
            reasons.append("area_m2 must be a positive number of square metres")
        elif area.as_tuple().exponent < -2:  # type: ignore[operator]
            reasons.append("area_m2 must have at most 2 decimal places")
        else:
            area_centi_m2 = int(area * 100)
    except InvalidOperation:
        reasons.append("area_m2 must be a number such as 89.37, written with the digits 0-9")
    if not _ID_RE.match(value["owner_id"]):
        reasons.append("owner_id must be 1-32 letters, digits, '-' or '_'")
    if not value["owner_name"] or len(value["owner_name"]) > 100:
        reasons.append("owner_name is required (at most 100 characters)")
    phone = value["phone"] or None
    if phone and not is_phone_number(phone):
        reasons.append(
            "phone must be a real number in E.164 form such as +8613800000000 (digits 0-9), or empty"
        )
    email = value["email"] or None
    if email and (len(email) > 254 or not _EMAIL_RE.match(email)):
        reasons.append("email is not a valid address")
    if not phone and not email:
        reasons.append("at least one contact (phone or email) is required")
    if value["locale"] not in LOCALES:
        reasons.append(f"locale must be one of {', '.join(LOCALES)}")
    if value["sms_consent"].lower() not in _CONSENT:
        reasons.append("sms_consent must be yes or no")
    if reasons:
        raise ValueError("; ".join(reasons))

    unit = Unit(
        unit_id=value["unit_id"],
        building=value["building"],
        floor=floor,
        number=value["number"],
        area_centi_m2=area_centi_m2,
        owner_id=value["owner_id"],
    )
    owner = Owner(
        owner_id=value["owner_id"],
        name=value["owner_name"],
        phone=phone,
        email=email,
        locale=value["locale"],
        sms_consent=_CONSENT[value["sms_consent"].lower()],
    )
    return unit, owner


# The csv module refuses fields over 128 KiB by default. Every field is bounded by the row
# checks below, so let the reader take any field the request could carry and report it there,
# on its own line, instead of failing the whole file.
MAX_FIELD_CHARS = 4 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))


def _not_csv(exc: csv.Error) -> str:
    # csv's own messages name the problem (e.g. a field over the size limit) without the data.
    return f"not readable as CSV: {exc}"


def _read_rows(reader: csv.DictReader) -> tuple[list[tuple[int, dict]], tuple[int, str] | None]:
    """``(line number, row)`` pairs, and the error where the csv module could not read on."""
    rows: list[tuple[int, dict]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        return rows, (reader.line_num, _not_csv(exc))
    return rows, None


def parse_units_csv(
    text: str, *, config: PropertyConfig
) -> tuple[list[Unit], list[Owner], list[tuple[int, str]]]:
    """Units, owners (one per owner id) and every error as ``(line number, reason)``."""
    errors: list[tuple[int, str]] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = tuple(name.strip() for name in (reader.fieldnames or ()))
    except csv.Error as exc:
        return [], [], [(max(reader.line_num, 1), _not_csv(exc))]
    if header != COLUMNS:
        missing = [name for name in COLUMNS if name not in header]
        extra = [name[:40] for name in header if name not in COLUMNS]
        detail = []
        if missing:
            detail.append(f"missing columns: {', '.join(missing)}")
        if extra:
            detail.append(f"unexpected columns: {', '.join(extra)}")
        if not detail:
            detail.append("columns are out of order")
        errors.append((1, f"header must be {','.join(COLUMNS)} ({'; '.join(detail)})"))
        return [], [], errors
    reader.fieldnames = list(header)

    units: dict[str, Unit] = {}
    owners: dict[str, Owner] = {}
    unit_lines: dict[str, int] = {}
    rows = 0
    parsed, unreadable = _read_rows(reader)
    if unreadable:
        errors.append(unreadable)
    for line, row in parsed:
        rows += 1
        if rows > MAX_ROWS:
            errors.append((line, f"too many rows (at most {MAX_ROWS})"))
            break
        if None in row:
            errors.append((line, "too many fields"))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue  # blank line
        try:
            unit, owner = _parse_row(row, config)
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        if unit.unit_id in units:
            errors.append((line, f"unit {unit.unit_id} already appears on line {unit_lines[unit.unit_id]}"))
            continue
        known = owners.get(owner.owner_id)
        if known is not None and known != owner:
            errors.append((line, f"owner {owner.owner_id} has different details on another line"))
            continue
        units[unit.unit_id] = unit
        unit_lines[unit.unit_id] = line
        owners[owner.owner_id] = owner
    if not units and not errors:
        errors.append((1, "the file has no units"))
    return list(units.values()), list(owners.values()), errors


def _marks_kept(owner: Owner, before: Owner | None) -> Owner:
    """A bounce or failed-SMS mark belongs to the address or number it was reported for: an import
    that gives the owner a new one clears it (staff fixed the contact); the same one keeps it."""
    if before is None:
        return owner
    return replace(
        owner,
        email_mark=before.email_mark if before.email == owner.email else None,
        phone_mark=before.phone_mark if before.phone == owner.phone else None,
    )


def import_units_csv(
    text: str,
    *,
    config: PropertyConfig,
    units: UnitRepository | None = None,
    owners: OwnerRepository | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ImportResult:
    parsed_units, parsed_owners, errors = parse_units_csv(text, config=config)
    if errors:
        logger.info("units import refused", errors=len(errors), first_error_line=errors[0][0])
        return ImportResult(created=0, updated=0, errors=errors)

    units = units or UnitRepository()
    owners = owners or OwnerRepository()
    at = now()
    existing_units = units.get_many(u.unit_id for u in parsed_units)
    existing_owners = owners.get_many(o.owner_id for o in parsed_owners)
    changed_owners = [
        _marks_kept(o, existing_owners.get(o.owner_id))
        for o in parsed_owners
        if existing_owners.get(o.owner_id) != o
    ]
    changed_owner_ids = {o.owner_id for o in changed_owners}
    new_units = [u for u in parsed_units if u.unit_id not in existing_units]
    changed_units = [
        u
        for u in parsed_units
        if u.unit_id in existing_units and (existing_units[u.unit_id] != u or u.owner_id in changed_owner_ids)
    ]
    # Owners first: a unit never points at an owner that is not stored yet.
    owners.put_many(changed_owners, updated_at=at)
    units.put_many(
        [u for u in parsed_units if u.unit_id not in existing_units or existing_units[u.unit_id] != u],
        updated_at=at,
    )
    result = ImportResult(
        created=len(new_units),
        updated=len(changed_units),
        unchanged=len(parsed_units) - len(new_units) - len(changed_units),
    )
    logger.info(
        "units imported",
        units_created=result.created,
        units_updated=result.updated,
        units_unchanged=result.unchanged,
        owners_written=len(changed_owners),
    )
    return result
