"""Fee standards (F1): drafts, publication, the version in force, and telling every owner.

An admin writes a draft through the staff API and publishes it with its publication period and
channels (``publish``): the version is then fixed, recorded in the ledger (``standard#<version>``),
its printable notice is stored in the documents bucket, and, when ``owner_message`` is among the
channels, one message per owner is queued. The owners are reached in batches on the notices
queue (``AnnounceStandard``): the first message plans (unit ids from the building index, never a
Scan), each later one names up to 50 units and queues a ``standard_published`` message per owner,
keyed on the version and the owner, so a retry sends nothing twice.

The version in force for a period (``standard_for``) is the published one with the latest
effective date on or before the period's first day; the property's launch standard
(``config.fee_standard``) counts as published. It is one Query of the property's versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from propdesk import aws
from propdesk.config import LOCALES, FeeItem, FeeStandard, PropertyConfig
from propdesk.documents.standards import notice_key, render_standard_pdf
from propdesk.domain import standards as rules
from propdesk.domain.calendar import first_day
from propdesk.domain.standards import (
    DRAFT,
    PUBLISHED,
    CostLine,
    LegalBasis,
    Publication,
    StandardRefused,
    StandardVersion,
    launch_version,
)
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.naming import NOTICES_QUEUE
from propdesk.queues import Producer, QueueProducer, batched
from propdesk.settings import get_settings
from propdesk.store import ledger
from propdesk.store.standards import StandardRepository
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

__all__ = [
    "ANNOUNCE_STANDARD",
    "AnnounceStandard",
    "Draft",
    "StandardRefused",
    "announce",
    "create_draft",
    "get_version",
    "list_versions",
    "page_path",
    "publish",
    "replace_draft",
    "standard_by_version",
    "standard_for",
]

ANNOUNCE_STANDARD = "announce_standard"
BATCH_SIZE = 50  # units per announcement batch: one BatchGetItem of their units
TEMPLATE = "standard_published"


@dataclass(frozen=True)
class Draft:
    """What an admin writes: everything but the version's id, status and publication."""

    effective_from: date
    legal_basis: LegalBasis
    items: tuple[FeeItem, ...]
    cost_breakdown: tuple[CostLine, ...]


# --- reading ---------------------------------------------------------------------------------------


def list_versions(config: PropertyConfig, *, repo: StandardRepository | None = None) -> list[StandardVersion]:
    """Every version, the launch standard included, oldest effective date first (one Query)."""
    stored = [s.version for s in (repo or StandardRepository()).all()]
    return sorted([launch_version(config.fee_standard), *stored], key=lambda v: (v.effective_from, v.version))


def get_version(
    version: str, config: PropertyConfig, *, repo: StandardRepository | None = None
) -> StandardVersion | None:
    if version == config.fee_standard.version:
        return launch_version(config.fee_standard)
    stored = (repo or StandardRepository()).get(version)
    return stored.version if stored else None


def standard_for(
    period: str,
    config: PropertyConfig,
    *,
    versions: Sequence[StandardVersion] | None = None,
    repo: StandardRepository | None = None,
) -> FeeStandard | None:
    """The fee standard a period is billed under: the published version with the latest effective
    date on or before the period's first day, or None (the period cannot be billed). Pass
    ``versions`` (``list_versions``) to answer several periods from one Query."""
    found = rules.in_force(
        versions if versions is not None else list_versions(config, repo=repo), first_day(period)
    )
    return found.fee_standard() if found else None


# Published versions never change, so what one read found may be kept while the function's
# settings are (a warm instance's life; a test's fresh settings start afresh).
_published: list[tuple[object, dict[str, FeeStandard]]] = []


def _published_cache() -> dict[str, FeeStandard]:
    settings = get_settings()
    if not _published or _published[0][0] is not settings:
        _published[:] = [(settings, {})]
    return _published[0][1]


def standard_by_version(
    version: str, config: PropertyConfig, *, repo: StandardRepository | None = None
) -> FeeStandard | None:
    """The published version ``version`` (a bill's ``fee_standard_version``), or None. The launch
    standard costs nothing; another costs one Query the first time in a process."""
    if version == config.fee_standard.version:
        return config.fee_standard
    cache = _published_cache()
    if version not in cache:
        for found in list_versions(config, repo=repo):
            if found.published:
                cache[found.version] = found.fee_standard()
    return cache.get(version)


# --- writing ---------------------------------------------------------------------------------------


def _check_buildings(draft: Draft, config: PropertyConfig) -> None:
    codes = {b.code for b in config.buildings}
    for item in draft.items:
        unknown = sorted(set(item.buildings or ()) - codes)
        if unknown:
            raise StandardRefused(
                422,
                "unknown_building",
                f"Fee item {item.code!r} names buildings the property does not have: {', '.join(unknown)}.",
            )


def _version(version: str, draft: Draft, *, staff_id: str, now: datetime) -> StandardVersion:
    return StandardVersion(
        version=version,
        status=DRAFT,
        effective_from=draft.effective_from,
        legal_basis=draft.legal_basis,
        items=draft.items,
        cost_breakdown=draft.cost_breakdown,
        created_at=now,
        created_by=staff_id,
    )


def _record_draft(version: StandardVersion, row_version: int, *, staff_id: str, now: datetime) -> None:
    ledger.append(
        ledger.standard_entity(version.version),
        "draft_saved",
        at=now,
        key=f"draft#{row_version:06d}",
        data={"by": staff_id, "effective_from": version.effective_from.isoformat()},
    )


def create_draft(
    version: str,
    draft: Draft,
    *,
    config: PropertyConfig,
    staff_id: str,
    now: datetime,
    repo: StandardRepository | None = None,
) -> StandardVersion:
    """A new draft version; refused when the id is taken (409) or it would not take effect after
    every published version (409)."""
    repo = repo or StandardRepository()
    _check_buildings(draft, config)
    versions = list_versions(config, repo=repo)
    if any(v.version == version for v in versions):
        raise StandardRefused(
            409, "version_exists", f"Version {version} exists; replace it or choose another id."
        )
    rules.check_effective_date(draft.effective_from, versions, version=version)
    made = _version(version, draft, staff_id=staff_id, now=now)
    if not repo.create(made, now=now):
        raise StandardRefused(
            409, "version_exists", f"Version {version} exists; replace it or choose another id."
        )
    _record_draft(made, 1, staff_id=staff_id, now=now)
    logger.info("fee standard draft created", version=version)
    return made


def replace_draft(
    version: str,
    draft: Draft,
    *,
    config: PropertyConfig,
    staff_id: str,
    now: datetime,
    repo: StandardRepository | None = None,
) -> StandardVersion:
    """Replace a draft as a whole; a published version is never changed (409 ``standard_published``)."""
    repo = repo or StandardRepository()
    if version == config.fee_standard.version:
        raise StandardRefused(409, "standard_published", rules.PUBLISHED_NEVER_CHANGES)
    stored = repo.get(version)
    if stored is None:
        raise StandardRefused(404, "not_found", f"No fee standard version {version}.")
    rules.check_editable(stored.version)
    _check_buildings(draft, config)
    rules.check_effective_date(draft.effective_from, list_versions(config, repo=repo), version=version)
    made = _version(version, draft, staff_id=staff_id, now=now).model_copy(
        update={"created_at": stored.version.created_at, "created_by": stored.version.created_by}
    )
    if not repo.replace(made, row_version=stored.row_version, now=now):
        raise StandardRefused(
            409, "changed", "The version was changed or published meanwhile; read it again."
        )
    _record_draft(made, stored.row_version + 1, staff_id=staff_id, now=now)
    return made


def page_path(version: str) -> str:
    """The public page of a version (no login)."""
    return f"/standards/{quote(version, safe='')}"


def publish(
    version: str,
    *,
    starts_on: date,
    ends_on: date,
    channels: Sequence[str],
    config: PropertyConfig,
    staff_id: str,
    now: datetime,
    today: date,
    base_url: str,
    repo: StandardRepository | None = None,
    notices: Producer | None = None,
    store_notice: Callable[[StandardVersion, str], object] | None = None,
) -> StandardVersion:
    """Publish a draft: check the period (``rules.check_publication``), fix the version with its
    publication under a conditional write (a second publish, at once or later, is refused and
    changes nothing, though it finishes a first one cut short), record it in the ledger, store the
    printable notices and queue the owners' message. ``store_notice(version, locale)`` stores one locale's printable notice (by default in
    the documents bucket: ``notice_link``)."""
    repo = repo or StandardRepository()
    if version == config.fee_standard.version:
        raise StandardRefused(409, "standard_published", rules.PUBLISHED_NEVER_CHANGES)
    stored = repo.get(version)
    if stored is None:
        raise StandardRefused(404, "not_found", f"No fee standard version {version}.")
    if stored.version.published:
        _finish(stored.version, config=config, base_url=base_url, notices=notices, store_notice=store_notice)
        raise StandardRefused(409, "standard_published", rules.PUBLISHED_NEVER_CHANGES)
    rules.check_publication(
        stored.version,
        list_versions(config, repo=repo),
        starts_on=starts_on,
        ends_on=ends_on,
        today=today,
        min_days=config.billing.standard_publication_days,
    )
    publication = Publication(
        starts_on=starts_on,
        ends_on=ends_on,
        channels=tuple(dict.fromkeys(channels)),  # type: ignore[arg-type]
        published_by=staff_id,
        published_at=now,
    )
    published = stored.version.model_copy(update={"status": PUBLISHED, "publication": publication})
    if not repo.replace(published, row_version=stored.row_version, now=now):
        raise StandardRefused(409, "standard_published", rules.PUBLISHED_NEVER_CHANGES)
    logger.info("fee standard published", version=version, channels=list(publication.channels))
    _finish(published, config=config, base_url=base_url, notices=notices, store_notice=store_notice)
    return published


def _finish(
    published: StandardVersion,
    *,
    config: PropertyConfig,
    base_url: str,
    notices: Producer | None,
    store_notice: Callable[[StandardVersion, str], object] | None,
) -> None:
    """What follows the publication, each step once: the ledger entry, the printable notices, the
    owners' announcement. Asking to publish again finishes one cut short (S3 or SQS down)."""
    publication = published.publication
    assert publication is not None
    entity = ledger.standard_entity(published.version)
    ledger.append(
        entity,
        "published",
        at=publication.published_at,
        key="published",
        data={
            "by": publication.published_by,
            "effective_from": published.effective_from.isoformat(),
            "starts_on": publication.starts_on.isoformat(),
            "ends_on": publication.ends_on.isoformat(),
            "channels": list(publication.channels),
        },
    )
    store = store_notice or (lambda made, locale: notice_link(made, config=config, locale=locale))
    for locale in LOCALES:
        store(published, locale)
    if "owner_message" not in publication.channels or ledger.keys(entity, "announced"):
        return
    announcement = AnnounceStandard(
        kind=ANNOUNCE_STANDARD,
        version=published.version,
        effective_from=published.effective_from,
        page_url=base_url.rstrip("/") + page_path(published.version),
    )
    (notices or QueueProducer(NOTICES_QUEUE)).send([announcement])
    ledger.append(entity, "announced", at=publication.published_at, key="announced")


# --- the printable notice ---------------------------------------------------------------------------

LINK_SECONDS = 300


def notice_link(
    version: StandardVersion,
    *,
    config: PropertyConfig,
    locale: str,
    s3: Any = None,
    bucket: str | None = None,
    expires_in: int = LINK_SECONDS,
) -> str:
    """A short-lived link to the version's printable notice in ``locale``, made and stored in the
    documents bucket first if need be (a published version never changes: neither does its file)."""
    if not version.published:
        raise ValueError(f"{version.version} is a draft: it has no notice")
    s3 = s3 or aws.s3_client()
    bucket = bucket or get_settings().documents_bucket
    if not bucket:
        raise RuntimeError("documents_bucket is not configured for this function")
    key = notice_key(config.property_id, version.version, locale)
    # Listing the prefix, not HeadObject: a function may list only its own prefix (see receipts).
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item.get("Key") == key for item in listed):
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=render_standard_pdf(version, config=config, locale=locale),
            ContentType="application/pdf",
            ServerSideEncryption="AES256",
        )
        logger.info("fee standard notice stored", version=version.version, key=key)
    return str(
        s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentType": "application/pdf",
                "ResponseContentDisposition": f'inline; filename="{version.version}.{locale}.pdf"',
            },
            ExpiresIn=expires_in,
        )
    )


# --- telling every owner ---------------------------------------------------------------------------


class AnnounceStandard(BaseModel):
    """A notices-queue message: tell the owners of these units (none: plan the batches for every
    unit of the property) that ``version`` was published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["announce_standard"]
    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    effective_from: date
    page_url: str = Field(min_length=1, max_length=500)
    unit_ids: tuple[str, ...] = Field(default=(), max_length=100)


def message_id(version: str, owner_id: str) -> str:
    return f"{TEMPLATE}#{version}#{owner_id}"


def announce(
    request: AnnounceStandard,
    *,
    config: PropertyConfig,
    units: UnitRepository | None = None,
    batches: Producer | None = None,
    outbox: Producer | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """One step of telling every owner: plan the batches (no unit ids) or queue one message per
    owner of the batch's units. Returns how many batches or messages were queued."""
    units = units or UnitRepository()
    if not request.unit_ids:
        sent = 0
        producer = batches or QueueProducer(NOTICES_QUEUE)
        for page in batched(units.ids(b.code for b in config.buildings), batch_size):
            producer.send([request.model_copy(update={"unit_ids": page})])
            sent += 1
        logger.info("fee standard announcement planned", version=request.version, batches=sent)
        return sent
    first_unit: dict[str, str] = {}
    for unit_id, unit in sorted(units.get_many(request.unit_ids).items()):
        first_unit.setdefault(unit.owner_id, unit_id)
    messages = [
        MessageRequest(
            message_id=message_id(request.version, owner_id),
            template=TEMPLATE,
            owner_id=owner_id,
            context={
                "unit_id": unit_id,
                "version": request.version,
                "effective_from": request.effective_from.isoformat(),
                "page_url": request.page_url,
            },
        )
        for owner_id, unit_id in first_unit.items()
    ]
    (outbox or QueueProducer(MESSAGES_QUEUE)).send(messages)
    logger.info("fee standard announced", version=request.version, messages=len(messages))
    return len(messages)
