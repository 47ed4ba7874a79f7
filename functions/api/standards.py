"""Fee standards (F1): the staff routes that draft and publish versions (JSON), and the public page
and printable notice of a published version (no login).

Who may call each one is in the route table (``propdesk.routes``); the authorization step has
checked it before a route runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from api.responses import html, json_error, json_ok, redirect
from api.staff import local_today
from propdesk import aws
from propdesk.config import FeeItem, LocalizedText
from propdesk.domain.standards import (
    ContractClause,
    CostLine,
    LegalBasis,
    LegalDocument,
    StandardRefused,
    StandardVersion,
    in_force,
)
from propdesk.services import standards
from propdesk.settings import get_settings
from propdesk.web import pages
from propdesk.web.access import StaffUser, caller_of
from propdesk.web.http import endpoint
from propdesk.web.schemas import (
    STANDARD_VERSION_PATTERN,
    FeeStandardDraftIn,
    FeeStandardIn,
    FeeStandardList,
    FeeStandardOut,
    LocalizedIn,
    PublicationIn,
)
from propdesk.web.staff_errors import ErrorAnswer

router = Router()

Version = Annotated[
    str, Path(pattern=STANDARD_VERSION_PATTERN, description="The version's id", examples=["SH-2027-01"])
]
Lang = Annotated[
    str | None,
    Query(max_length=16, description="Page language: zh-CN or en (another: the property's default)"),
]


def _staff_id() -> str:
    staff = caller_of(router.context)
    assert isinstance(staff, StaffUser)
    return staff.sub


def _refused(error: StandardRefused) -> ErrorAnswer:
    return ErrorAnswer(json_error(error.status, error.code, error.message))


def _text(text: LocalizedIn) -> LocalizedText:
    return LocalizedText.model_validate({"zh-CN": text.zh_CN, "en": text.en})


def _draft(body: FeeStandardDraftIn) -> standards.Draft:
    """The request as the domain's values (the request has been validated: shares, codes, locales)."""
    basis = body.legal_basis
    return standards.Draft(
        effective_from=body.effective_from,
        legal_basis=LegalBasis(
            document=LegalDocument(
                kind=basis.document.kind,
                reference=basis.document.reference,
                issued_by=_text(basis.document.issued_by),
            ),
            contract_clauses=tuple(
                ContractClause(contract=_text(c.contract), clause=_text(c.clause))
                for c in basis.contract_clauses
            ),
        ),
        items=tuple(
            FeeItem(
                code=item.code,
                name=_text(item.name),
                basis=item.basis,
                rate_minor=item.rate_minor,
                buildings=tuple(item.buildings) if item.buildings is not None else None,
                requires_elevator=item.requires_elevator,
            )
            for item in body.items
        ),
        cost_breakdown=tuple(
            CostLine(name=_text(line.name), share_bp=line.share_bp, item=line.item)
            for line in body.cost_breakdown
        ),
    )


def _out(version: StandardVersion) -> dict[str, Any]:
    data = version.model_dump(mode="json", by_alias=True)
    data["public_url"] = pages.standard_path(version.version) if version.published else None
    return FeeStandardOut.model_validate(data).model_dump(mode="json", by_alias=True)


@endpoint(router, "create_standard", status_code=201)
def create_standard(body: FeeStandardIn) -> Response[FeeStandardOut]:
    config = get_settings().property_config
    try:
        made = standards.create_draft(
            body.version, _draft(body), config=config, staff_id=_staff_id(), now=datetime.now(UTC)
        )
    except StandardRefused as error:
        raise _refused(error) from None
    return json_ok(_out(made), status=201)


@endpoint(router, "replace_standard")
def replace_standard(version: Version, body: FeeStandardDraftIn) -> Response[FeeStandardOut]:
    config = get_settings().property_config
    try:
        made = standards.replace_draft(
            version, _draft(body), config=config, staff_id=_staff_id(), now=datetime.now(UTC)
        )
    except StandardRefused as error:
        raise _refused(error) from None
    return json_ok(_out(made))


@endpoint(router, "list_standards")
def list_standards() -> Response[FeeStandardList]:
    config = get_settings().property_config
    versions = standards.list_versions(config)
    current = in_force(versions, local_today(config))
    return json_ok(
        {"in_force": current.version if current else None, "versions": [_out(v) for v in versions]}
    )


@endpoint(router, "get_standard")
def get_standard(version: Version) -> Response[FeeStandardOut]:
    found = standards.get_version(version, get_settings().property_config)
    if found is None:
        raise ErrorAnswer(json_error(404, "not_found", f"No fee standard version {version}."))
    return json_ok(_out(found))


@endpoint(router, "publish_standard")
def publish_standard(version: Version, body: PublicationIn) -> Response[FeeStandardOut]:
    config = get_settings().property_config
    try:
        published = standards.publish(
            version,
            starts_on=body.starts_on,
            ends_on=body.ends_on,
            channels=body.channels,
            config=config,
            staff_id=_staff_id(),
            now=datetime.now(UTC),
            today=local_today(config),
            base_url=aws.public_base_url(),
        )
    except StandardRefused as error:
        raise _refused(error) from None
    return json_ok(_out(published))


def _published(version: str, locale: str) -> StandardVersion | Response:
    """The published version, or the not-found page (a draft is not public)."""
    config = get_settings().property_config
    found = standards.get_version(version, config)
    if found is None or not found.published:
        current = in_force(standards.list_versions(config), local_today(config))
        page = pages.render_standard_not_found(locale, config, current.version if current else None)
        return html(404, page)
    return found


def _locale(lang: str | None) -> str:
    # A public page: a language we do not have shows the property's own rather than an error.
    return pages.choose_locale(lang, None, get_settings().property_config.default_locale)


@endpoint(router, "standard_page", html=True)
def standard_page(version: Version, lang: Lang = None) -> Response[str]:
    config = get_settings().property_config
    locale = _locale(lang)
    found = _published(version, locale)
    if isinstance(found, Response):
        return found
    page = pages.render_standard_page(
        found, standards.list_versions(config), config=config, locale=locale, today=local_today(config)
    )
    return html(200, page, headers={"Cache-Control": "public, max-age=300"})


@endpoint(router, "standard_notice", status_code=303, html=True)
def standard_notice(version: Version, lang: Lang = None) -> Response[str]:
    config = get_settings().property_config
    locale = _locale(lang)
    found = _published(version, locale)
    if isinstance(found, Response):
        return found
    return redirect(standards.notice_link(found, config=config, locale=locale))
