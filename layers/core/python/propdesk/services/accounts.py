"""What a unit's account shows: its open bills, its credit and its payments (F4, F5).

The owner's account page and the staff account view read the same ``AccountView`` in two
requests: the account item (GetItem), then its open bills and latest payments (one
BatchGetItem across both tables). ``find_accounts`` is the cashier's search: a unit number, an
owner's name or a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

import phonenumbers

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.domain.units import Owner, Unit
from propdesk.services import visits
from propdesk.services.visits import Visit
from propdesk.store.accounts import Account, AccountStore, fold
from propdesk.store.mandates import CARD, DEBIT, Mandate
from propdesk.store.models import OwnerItem, UnitItem
from propdesk.store.owners import OwnerRepository
from propdesk.store.owners import from_item as owner_from_item
from propdesk.store.payments import PaymentRecord
from propdesk.store.units import UnitRepository
from propdesk.store.units import from_item as unit_from_item

SEARCH_LIMIT = 20


@dataclass(frozen=True)
class AccountView:
    unit_id: str
    currency: str
    credit_minor: int
    open_bills: tuple[Bill, ...]  # oldest first
    payments: tuple[PaymentRecord, ...]  # newest first
    owner_id: str | None = None
    owner: Owner | None = None
    account: Account | None = None  # as read (its open checkout sessions, its version)
    visit: Visit | None = None  # the next home visit booked
    debit: Mandate | None = None  # the direct-debit mandate (read when the property offers it)
    autopay: Mandate | None = None  # the card autopay mandate (likewise)

    @property
    def owed_minor(self) -> int:
        return sum(bill.total_minor - bill.paid_minor for bill in self.open_bills)

    @property
    def settled(self) -> bool:
        return self.owed_minor == 0


def view_of(
    account: Account,
    bills: dict[str, Bill],
    payments: dict[str, PaymentRecord],
    owner: Owner | None = None,
) -> AccountView:
    open_bills = tuple(
        sorted(
            (bills[b] for b in account.open_bill_ids if b in bills and bills[b].is_open),
            key=lambda bill: (bill.period, bill.bill_id),
        )
    )
    return AccountView(
        unit_id=account.unit_id,
        currency=account.currency,
        credit_minor=account.credit_minor,
        open_bills=open_bills,
        payments=tuple(payments[p] for p in account.payment_ids if p in payments),
        owner_id=account.owner_id,
        owner=owner,
        account=account,
    )


def account_view(
    unit_id: str,
    *,
    store: AccountStore | None = None,
    config: PropertyConfig | None = None,
    today: date | None = None,
) -> AccountView | None:
    """The unit's account as its page shows it, with its owner: three DynamoDB requests, the
    account item, its charge entries (a Query: bills issued in batches since the account was
    written), then its open bills (those too), latest payments, owner and (with ``config`` and
    ``today``) the home visits it may have booked, in one BatchGetItem (None: the unit has no
    account yet)."""
    store = store or AccountStore()
    account = store.get(unit_id)
    if account is None:
        return None
    charges = store.charges(account)  # bills issued in batches since it was written, if any
    candidates = visits.candidate_ids(unit_id, config, today) if config and today else []
    snapshot = store.snapshot(
        bill_ids=[*account.open_bill_ids, *(charges.bill_ids if charges else ())],
        payment_ids=account.payment_ids,
        owner_id=account.owner_id,
        visit_ids=candidates,
        mandate_of=unit_id
        if config is not None and (config.payment.direct_debit or config.payment.card_autopay)
        else None,
    )
    account = fold(account, charges, snapshot.bills) if charges else account
    view = view_of(account, snapshot.bills, snapshot.payments, snapshot.owner)
    booked = visits.first_booked(snapshot.visits, order=candidates)
    view = replace(view, visit=booked) if booked else view
    return replace(view, debit=snapshot.mandates.get(DEBIT), autopay=snapshot.mandates.get(CARD))


@dataclass(frozen=True)
class Found:
    unit: Unit
    owner: Owner | None


_UNIT_LIKE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _phone(query: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(query, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def natural_key(unit_id: str) -> tuple[object, ...]:
    """Sort key putting A-101 before A-1001 and B-2 before B-10 (numbers compared as numbers)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", unit_id))


def find_accounts(
    query: str,
    *,
    region: str = "CN",
    units: UnitRepository | None = None,
    owners: OwnerRepository | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[Found]:
    """Units matching ``query``: its unit number exactly, else owners whose name contains it or
    whose phone is it (any common way of writing it). Natural unit order, at most ``limit``.

    A property has thousands of units, not millions: the name and phone searches read the
    owners table (a few pages), which costs less than keeping an index current."""
    units = units or UnitRepository()
    owners = owners or OwnerRepository()
    text = query.strip()
    if not text:
        return []
    if _UNIT_LIKE.match(text):
        unit = units.get(text) or units.get(text.upper())
        if unit is not None:
            return [Found(unit, owners.get(unit.owner_id))]
    phone = _phone(text, region) if any(ch.isdigit() for ch in text) else None
    needle = text.casefold()
    matching: dict[str, Owner] = {}
    for item in OwnerItem.scan():
        owner = owner_from_item(item)
        if (phone and owner.phone == phone) or (needle and needle in owner.name.casefold()):
            matching[owner.owner_id] = owner
    if not matching:
        return []
    found = [
        Found(unit, matching[unit.owner_id]) for unit in _units_of(matching) if unit.owner_id in matching
    ]
    return sorted(found, key=lambda f: natural_key(f.unit.unit_id))[:limit]


def _units_of(owners: Iterable[str]) -> list[Unit]:
    wanted = set(owners)
    return [unit_from_item(item) for item in UnitItem.scan() if item.owner_id in wanted]
