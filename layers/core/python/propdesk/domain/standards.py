"""Fee standards (收费标准, F1) as versions: what a version says, and the rules of publishing it.

A version is a draft until an admin publishes it with its publication period (公示期) and
channels; then it never changes (a correction is a new version with its own effective date).
The version in force for a day is the published one with the latest effective date on or before
it. The property's launch standard (``config.fee_standard``, filed and posted at launch) counts as
a published version.

Pure: values in, values or ``StandardRefused`` out; no I/O, no clock reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from propdesk.config import FeeItem, FeeStandard, LocalizedText

DRAFT = "draft"
PUBLISHED = "published"
FULL_SHARE_BP = 10_000  # 100 % in basis points

# Where a standard is posted: the site's notice board and each building's door (the printable
# notice), the property's website (the public page), and a message to every owner.
Channel = Literal["notice_board", "building_doors", "website", "owner_message"]
CHANNELS: tuple[str, ...] = ("notice_board", "building_doors", "website", "owner_message")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LegalDocument(_Strict):
    """The government approval (审批) or filing (备案) the rates rest on."""

    kind: Literal["approval", "filing"]
    reference: str = Field(min_length=1, max_length=120)
    issued_by: LocalizedText


class ContractClause(_Strict):
    """A fee clause of the property-service contract (物业服务合同)."""

    contract: LocalizedText
    clause: LocalizedText


class LegalBasis(_Strict):
    document: LegalDocument
    contract_clauses: tuple[ContractClause, ...] = Field(min_length=1)

    def lines(self, locale: str) -> tuple[str, ...]:
        """The basis as printed: the document, then each clause."""
        return (
            f"{self.document.issued_by.get(locale)} {self.document.reference}",
            *(f"{c.contract.get(locale)} {c.clause.get(locale)}" for c in self.contract_clauses),
        )


class CostLine(_Strict):
    """One line of the cost breakdown (成本构成): what share of the fee pays for it."""

    name: LocalizedText
    share_bp: int = Field(ge=1, le=FULL_SHARE_BP)
    item: str | None = None  # the fee item it is the cost of, if one


class Publication(_Strict):
    """The publication (公示) of a version: its period (local dates, both included), where it was
    posted, and who recorded it when."""

    starts_on: date
    ends_on: date
    channels: tuple[Channel, ...] = Field(min_length=1)
    published_by: str
    published_at: datetime


class StandardVersion(_Strict):
    """One version of the property's fee standard."""

    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    status: Literal["draft", "published"]
    effective_from: date
    # Structured for versions made through the API; the launch standard's config has lines only.
    legal_basis: LegalBasis | None = None
    legal_basis_lines: tuple[str, ...] = ()
    items: tuple[FeeItem, ...] = Field(min_length=1)
    cost_breakdown: tuple[CostLine, ...] = ()
    publication: Publication | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    launch: bool = False  # the config's launch standard

    @property
    def published(self) -> bool:
        return self.status == PUBLISHED

    def basis_lines(self, locale: str) -> tuple[str, ...]:
        return self.legal_basis.lines(locale) if self.legal_basis else self.legal_basis_lines

    def fee_standard(self) -> FeeStandard:
        """The version as the ``FeeStandard`` bills are computed from (``compute_bill``)."""
        shares: dict[str, int] = {}
        for line in self.cost_breakdown:
            if line.item:
                shares[line.item] = shares.get(line.item, 0) + line.share_bp
        items = tuple(
            item.model_copy(update={"cost_share_bp": shares[item.code]}) if item.code in shares else item
            for item in self.items
        )
        return FeeStandard(
            version=self.version,
            effective_from=self.effective_from,
            legal_basis=self.basis_lines("zh-CN") or (self.version,),
            items=items,
        )


def launch_version(standard: FeeStandard) -> StandardVersion:
    """The config's launch standard as a published version: its cost breakdown is its items'
    shares (``cost_share_bp``)."""
    return StandardVersion(
        version=standard.version,
        status=PUBLISHED,
        effective_from=standard.effective_from,
        legal_basis_lines=standard.legal_basis,
        items=standard.items,
        cost_breakdown=tuple(
            CostLine(name=item.name, share_bp=item.cost_share_bp, item=item.code)
            for item in standard.items
            if item.cost_share_bp
        ),
        launch=True,
    )


class StandardRefused(Exception):
    """A change to the standards that may not be made: an HTTP status, a code and a sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


PUBLISHED_NEVER_CHANGES = (
    "A published version never changes; publish a correction as a new version with its effective date."
)


def in_force(versions: Iterable[StandardVersion], day: date) -> StandardVersion | None:
    """The published version with the latest effective date on or before ``day``, or None."""
    candidates = [v for v in versions if v.published and v.effective_from <= day]
    return max(candidates, key=lambda v: v.effective_from, default=None)


def latest_published(versions: Iterable[StandardVersion]) -> StandardVersion | None:
    return max((v for v in versions if v.published), key=lambda v: v.effective_from, default=None)


def check_effective_date(effective_from: date, versions: Iterable[StandardVersion], *, version: str) -> None:
    """A new version takes effect after every published one: versions follow each other in time,
    and a bill's period is never covered by two that were published after the fact."""
    latest = latest_published(v for v in versions if v.version != version)
    if latest is not None and effective_from <= latest.effective_from:
        raise StandardRefused(
            409,
            "effective_date_not_after",
            f"effective_from must be after {latest.effective_from.isoformat()}, when the published "
            f"version {latest.version} takes effect.",
        )


def check_editable(existing: StandardVersion | None) -> None:
    """Only a draft may be replaced."""
    if existing is not None and existing.published:
        raise StandardRefused(409, "standard_published", PUBLISHED_NEVER_CHANGES)


def check_publication(
    draft: StandardVersion,
    versions: Iterable[StandardVersion],
    *,
    starts_on: date,
    ends_on: date,
    today: date,
    min_days: int,
) -> None:
    """Whether ``draft`` may be published with this period: it is still a draft, takes effect after
    every published version, and is posted from today or later, for at least ``min_days`` days
    (both ends included), starting at least ``min_days`` days before it takes effect. A period
    that does not fit today and the version is a conflict (409), like the others."""
    if draft.published:
        raise StandardRefused(409, "standard_published", PUBLISHED_NEVER_CHANGES)
    check_effective_date(draft.effective_from, versions, version=draft.version)
    if starts_on < today:
        raise StandardRefused(
            409, "publication_in_the_past", f"The publication starts today ({today.isoformat()}) or later."
        )
    if ends_on < starts_on:
        raise StandardRefused(409, "publication_ends_before_start", "The publication ends before it starts.")
    length = (ends_on - starts_on).days + 1
    if length < min_days:
        raise StandardRefused(
            409,
            "publication_too_short",
            f"The publication lasts {length} days; it must last at least {min_days} days.",
        )
    latest_start = draft.effective_from - timedelta(days=min_days)
    if starts_on > latest_start:
        raise StandardRefused(
            409,
            "publication_too_late",
            f"The publication must start at least {min_days} days before {draft.version} takes effect "
            f"({draft.effective_from.isoformat()}): on {latest_start.isoformat()} at the latest.",
        )
