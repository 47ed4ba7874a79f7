"""A fresh link for an owner whose link is invalid or expired (F4): asked for on the
"link not valid" page with a unit number and the phone or e-mail the property has on file.

The answer is the same whatever happens, so the page tells nobody whether a unit exists or which
contact it has. When the unit's owner has that contact, a new link to the unit's account goes
there (by SMS for a phone, by e-mail for an address), at most once an hour per unit: the
message id names the unit and the hour, and the messenger sends an id once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import phonenumbers
from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.units import Owner
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.payments.links import PayLinks, pay_links
from propdesk.queues import Producer, QueueProducer
from propdesk.store.owners import OwnerRepository
from propdesk.store.units import UnitRepository

logger = Logger(child=True)

UNIT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def matching_channel(owner: Owner, contact: str, *, region: str) -> str | None:
    """ "email" or "sms" when ``contact`` is the owner's address or phone on file, else None."""
    text = contact.strip()
    if "@" in text:
        return "email" if owner.email and owner.email.casefold() == text.casefold() else None
    phone = _phone(text, region)
    return "sms" if phone and owner.phone == phone else None


def request_fresh_link(
    unit_id: str,
    contact: str,
    *,
    config: PropertyConfig,
    now: datetime,
    units: UnitRepository | None = None,
    owners: OwnerRepository | None = None,
    outbox: Producer | None = None,
    links: PayLinks | None = None,
) -> bool:
    """Send a fresh account link if ``contact`` is on file for the unit's owner. The return value
    is for tests and logs only: the owner's page never says."""
    units = units or UnitRepository()
    wanted = unit_id.strip()
    if not UNIT_ID.match(wanted):
        logger.info("fresh link requested", matched=False)
        return False  # not a unit number at all: the same answer, nothing looked up
    unit = units.get(wanted.upper()) or units.get(wanted)
    owner = (owners or OwnerRepository()).get(unit.owner_id) if unit else None
    region = "CN" if config.currency == "CNY" else "US"
    channel = matching_channel(owner, contact, region=region) if owner else None
    logger.info("fresh link requested", matched=channel is not None)
    if unit is None or owner is None or channel is None:
        return False
    links = links or pay_links()
    hour = now.astimezone(UTC).strftime("%Y%m%d%H")
    request = MessageRequest(
        message_id=f"pay_link#{unit.unit_id}#{hour}",
        template="pay_link",
        owner_id=owner.owner_id,
        channels=(channel,),  # type: ignore[arg-type]
        context={
            "unit_id": unit.unit_id,
            "pay_url": links.account_url(unit.unit_id, owner_id=owner.owner_id, now=now),
        },
    )
    (outbox or QueueProducer(MESSAGES_QUEUE)).send([request])
    return True
