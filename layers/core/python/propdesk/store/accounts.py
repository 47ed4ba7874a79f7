"""Unit accounts in DynamoDB: one read of everything a posting needs, and one transaction that
writes it.

A *posting* is one change of money on an account: a payment spread over bills and credit, a
bill issued and paid from credit, a refund. ``post`` writes all of it at once or nothing: the
payment (keyed on the provider's id, so it counts once), each bill and the account under the
versions they were read with (so a concurrent posting makes this one retry instead of
overwriting it), the receipt counter under its value (so receipt numbers have no gaps), and the
ledger entries that record it (keyed, append-only). ``snapshot`` reads what a posting needs in
one BatchGetItem across the tables.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from propdesk.domain.billing import Bill
from propdesk.domain.units import Owner
from propdesk.store import bills as bill_store
from propdesk.store import ledger
from propdesk.store import mandates as mandate_store
from propdesk.store import owners as owner_store
from propdesk.store import payments as payment_store
from propdesk.store import refunds as refund_store
from propdesk.store.batch import batch_get
from propdesk.store.mandates import CARD, DEBIT, Mandate
from propdesk.store.models import (
    AccountItem,
    BillItem,
    CounterItem,
    LedgerItem,
    MandateItem,
    OwnerItem,
    PaymentItem,
    VisitItem,
)
from propdesk.store.payments import PaymentRecord
from propdesk.store.refunds import RefundRecord

RECENT_PAYMENTS = 24  # the payments an account item lists (its page's history); all are in the table
MAX_OPEN_SESSIONS = 10  # checkout sessions noted per account (two tabs, a few retries)
_CONDITION_FAILED = "ConditionalCheckFailed"
_CONFLICT = "TransactionConflict"
BATCH_GET_LIMIT = 100
CHARGE_PREFIX = "charge#"  # the account's ledger entry for each bill issued on it: "charge#<bill id>"


@dataclass(frozen=True)
class Account:
    unit_id: str
    owner_id: str | None
    currency: str
    credit_minor: int = 0
    open_bill_ids: tuple[str, ...] = ()
    payment_ids: tuple[str, ...] = ()
    open_sessions: tuple[str, ...] = ()  # "<checkout session id> <expiry epoch>"
    version: int | None = field(default=None, compare=False)
    # The unit's charge entries ``open_bill_ids`` reflects: how many, and the greatest key. A bill
    # issued in a batch is not written on the account; ``AccountStore.with_new_bills`` finds it.
    charges_seen: int = 0
    charges_through: str = ""

    def sessions_open_at(self, now: datetime) -> tuple[str, ...]:
        """The ids of the checkout sessions started from the owner's page, not expired by ``now``."""
        found = []
        for entry in self.open_sessions:
            session_id, _, expires = entry.partition(" ")
            if expires.isdigit() and int(expires) > now.timestamp():
                found.append(session_id)
        return tuple(found)

    def with_payment(self, payment_id: str) -> tuple[str, ...]:
        return (payment_id, *[p for p in self.payment_ids if p != payment_id])[:RECENT_PAYMENTS]


@dataclass(frozen=True)
class Entry:
    """One ledger entry written with a posting (append-only, keyed: written once)."""

    entity: str
    key: str
    event: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Posting:
    """Everything one change of money writes, as it should be after the change."""

    account: Account  # with the version it was read with (None: a new account)
    new_bills: tuple[Bill, ...] = ()
    changed_bills: tuple[Bill, ...] = ()  # each with the version it was read with
    new_payment: PaymentRecord | None = None
    changed_payment: PaymentRecord | None = None  # with the version it was read with
    counter: tuple[str, int | None] | None = None  # (name, value read): advanced by one
    entries: tuple[Entry, ...] = ()
    refunds: tuple[RefundRecord, ...] = ()  # refunds this posting settles (each under its version)


class PostResult(enum.Enum):
    POSTED = "posted"
    PAYMENT_EXISTS = "payment_exists"  # this payment was recorded already
    BILL_EXISTS = "bill_exists"  # this bill was issued already
    MOVED_ON = "moved_on"  # the account, a bill, the payment or the counter changed: read again


@dataclass(frozen=True)
class Snapshot:
    """What the store says, in one read, about a payment and its unit."""

    payment: PaymentRecord | None
    account: Account | None
    bills: dict[str, Bill]
    counter_value: int | None
    payments: dict[str, PaymentRecord] = field(default_factory=dict)  # every payment read
    owner: Owner | None = None
    visits: tuple[VisitItem, ...] = ()  # home visits asked for by id, as stored
    mandates: dict[str, Mandate] = field(default_factory=dict)  # the unit's mandates by kind, when asked for


@dataclass(frozen=True)
class Charges:
    """The unit's charge entries (one per bill issued on it) read for ``fold``: all their keys,
    and the bills among the new ones that the account does not list."""

    keys: tuple[str, ...]
    bill_ids: tuple[str, ...]


def fold(account: Account, charges: Charges, bills: Mapping[str, Bill]) -> Account:
    """Pure: ``account`` with the bills issued since it was written that are open (read in
    ``bills``), oldest first, and the charges it now reflects.

    A bill issued in a batch is not written on its account, only its charge entry is
    (``store.issuing``). The account records how many charges its list reflects and the greatest
    key; the new ones are those after that key if that accounts for all of them, else (a period
    issued out of order) every charge not listed. A posting that writes the folded account
    records what it has seen; one that does not leaves the new bills to be found again."""
    opened = [b for b in charges.bill_ids if b in bills and bills[b].is_open]
    return replace(
        account,
        open_bill_ids=tuple(
            sorted(dict.fromkeys([*account.open_bill_ids, *opened]), key=lambda b: b.rsplit("#", 1)[-1])
        ),
        charges_seen=len(charges.keys),
        charges_through=max([account.charges_through, *charges.keys]),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_item(account: Account, *, updated_at: datetime) -> AccountItem:
    item = AccountItem(
        unit_id=account.unit_id,
        owner_id=account.owner_id,
        currency=account.currency,
        credit_minor=account.credit_minor,
        open_bill_ids=list(account.open_bill_ids),
        payment_ids=list(account.payment_ids),
        open_sessions=list(account.open_sessions),
        charges_seen=account.charges_seen,
        charges_through=account.charges_through or None,
        updated_at=_utc(updated_at),
    )
    if account.version is not None:
        item.version = account.version
    return item


def from_item(item: AccountItem) -> Account:
    return Account(
        unit_id=item.unit_id,
        owner_id=item.owner_id,
        currency=item.currency,
        credit_minor=int(item.credit_minor or 0),
        open_bill_ids=tuple(item.open_bill_ids or ()),
        payment_ids=tuple(item.payment_ids or ()),
        open_sessions=tuple(item.open_sessions or ()),
        version=int(item.version) if item.version is not None else None,
        charges_seen=int(item.charges_seen or 0),
        charges_through=item.charges_through or "",
    )


def _client() -> Any:
    """The models' own DynamoDB client (a warm function reuses it; no new botocore client)."""
    return AccountItem._get_connection().connection.client


class AccountStore:
    def get(self, unit_id: str) -> Account | None:
        try:
            return from_item(AccountItem.get(unit_id, consistent_read=True))
        except AccountItem.DoesNotExist:
            return None

    def get_many(self, unit_ids: Iterable[str]) -> dict[str, Account]:
        ids = list(dict.fromkeys(unit_ids))
        found: dict[str, Account] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            for item in AccountItem.batch_get(ids[start : start + BATCH_GET_LIMIT]):
                found[item.unit_id] = from_item(item)
        return found

    def snapshot(
        self,
        *,
        payment_id: str | None = None,
        unit_id: str | None = None,
        bill_ids: Iterable[str] = (),
        counter: str | None = None,
        payment_ids: Iterable[str] = (),
        owner_id: str | None = None,
        visit_ids: Iterable[str] = (),
        mandate_of: str | None = None,
    ) -> Snapshot:
        """Payment, account, bills and the receipt counter: one strongly consistent BatchGetItem."""
        wanted: dict[type[Model], list[dict[str, Any]]] = {}
        if payment_id or payment_ids:
            ids = list(dict.fromkeys([*([payment_id] if payment_id else []), *payment_ids]))
            wanted[PaymentItem] = [{"payment_id": {"S": p}} for p in ids]
        if unit_id:
            wanted[AccountItem] = [{"unit_id": {"S": unit_id}}]
        bills = list(dict.fromkeys(bill_ids))
        if bills:
            wanted[BillItem] = [{"bill_id": {"S": b}} for b in bills]
        if counter:
            wanted[CounterItem] = [{"name": {"S": counter}}]
        if owner_id:
            wanted[OwnerItem] = [{"owner_id": {"S": owner_id}}]
        visits = list(dict.fromkeys(visit_ids))
        if visits:
            wanted[VisitItem] = [{"visit_id": {"S": v}} for v in visits]
        if mandate_of:
            wanted[MandateItem] = [
                {"unit_id": {"S": mandate_of}, "kind": {"S": kind}} for kind in (DEBIT, CARD)
            ]
        found = self._batch_get(wanted)
        payments = {p.payment_id: payment_store.from_item(p) for p in found.get(PaymentItem, [])}
        accounts = [from_item(a) for a in found.get(AccountItem, [])]
        counters = found.get(CounterItem, [])
        return Snapshot(
            payment=payments.get(payment_id) if payment_id else None,
            account=accounts[0] if accounts else None,
            bills={b.bill_id: bill_store.from_item(b) for b in found.get(BillItem, [])},
            counter_value=int(counters[0].value) if counters else None,
            payments=payments,
            owner=next((owner_store.from_item(o) for o in found.get(OwnerItem, [])), None),
            visits=tuple(found.get(VisitItem, [])),  # type: ignore[arg-type]
            mandates={m.kind: m for m in (mandate_store.from_item(i) for i in found.get(MandateItem, []))},  # type: ignore[arg-type]
        )

    def charges(self, account: Account) -> Charges | None:
        """The unit's charge entries, when there are more than ``account`` reflects (None: it
        lists every open bill). One strongly consistent Query (see ``fold``)."""
        keys = ledger.keys(ledger.account_entity(account.unit_id), CHARGE_PREFIX)
        if len(keys) == account.charges_seen:
            return None
        above = [k for k in keys if k > account.charges_through]
        new = above if len(above) == len(keys) - account.charges_seen else keys  # else: out of order
        listed = set(account.open_bill_ids)
        bill_ids = [k.removeprefix(CHARGE_PREFIX) for k in new]
        return Charges(tuple(keys), tuple(b for b in bill_ids if b not in listed))

    def with_new_bills(self, account: Account, known: Mapping[str, Bill] | None = None) -> Account:
        """``account`` with the open bills issued on it since it was written: the Query of
        ``charges``, then the bills it names that ``known`` does not hold, in one BatchGetItem."""
        charges = self.charges(account)
        if charges is None:
            return account
        known = dict(known or {})
        unread = [b for b in charges.bill_ids if b not in known]
        if unread:
            known.update(self.snapshot(bill_ids=unread).bills)
        return fold(account, charges, known)

    def payments(self, payment_ids: Iterable[str]) -> dict[str, PaymentRecord]:
        found = self._batch_get({PaymentItem: [{"payment_id": {"S": p}} for p in dict.fromkeys(payment_ids)]})
        return {p.payment_id: payment_store.from_item(p) for p in found.get(PaymentItem, [])}

    def accounts_and_bills(
        self, unit_ids: Iterable[str], bill_ids: Iterable[str]
    ) -> tuple[dict[str, Account], dict[str, Bill]]:
        """The accounts of ``unit_ids`` and the bills ``bill_ids``, strongly consistent, in as few
        BatchGetItems as DynamoDB allows (100 keys each): one for a notice batch of 50 units."""
        found = self._batch_get(
            {
                AccountItem: [{"unit_id": {"S": u}} for u in dict.fromkeys(unit_ids)],
                BillItem: [{"bill_id": {"S": b}} for b in dict.fromkeys(bill_ids)],
            }
        )
        accounts = {a.unit_id: from_item(a) for a in found.get(AccountItem, [])}
        return accounts, {b.bill_id: bill_store.from_item(b) for b in found.get(BillItem, [])}

    @staticmethod
    def _batch_get(wanted: dict[type[Model], list[dict[str, Any]]]) -> dict[type[Model], list[Model]]:
        return batch_get(wanted)

    def add_session(self, account: Account, session_id: str, *, expires_at: datetime, now: datetime) -> bool:
        """Note a checkout session started from the unit's page, keeping only the sessions still
        open (at most ``MAX_OPEN_SESSIONS``). It moves the account's version, so a posting that
        read the account before reads it again and sees the session. False: not noted (the
        account kept moving); the session still works, it is just not expired by another's payment."""
        for _ in range(3):
            still_open = [
                e for e in account.open_sessions if e.partition(" ")[0] in account.sessions_open_at(now)
            ]
            entries = [*still_open[-(MAX_OPEN_SESSIONS - 1) :], f"{session_id} {int(expires_at.timestamp())}"]
            AccountItem._get_connection()
            try:
                _client().update_item(
                    TableName=AccountItem.Meta.table_name,
                    Key={"unit_id": {"S": account.unit_id}},
                    UpdateExpression="SET open_sessions = :sessions, #version = #version + :one",
                    ConditionExpression="#version = :read",
                    ExpressionAttributeNames={"#version": "version"},
                    ExpressionAttributeValues={
                        ":sessions": {"L": [{"S": e} for e in entries]},
                        ":one": {"N": "1"},
                        ":read": {"N": str(account.version)},
                    },
                )
                return True
            except _client().exceptions.ConditionalCheckFailedException:
                fresh = self.get(account.unit_id)
                if fresh is None:
                    return False
                account = fresh
        return False

    def post(self, posting: Posting, *, now: datetime) -> PostResult:
        """Write ``posting`` all at once, or nothing and say why."""
        kinds: list[
            str
        ] = []  # what each item of the transaction is, in order (cancellation reasons follow it)
        try:
            with TransactWrite(connection=AccountItem._get_connection().connection) as transaction:
                if posting.new_payment is not None:
                    transaction.save(
                        payment_store.to_item(posting.new_payment),
                        condition=PaymentItem.payment_id.does_not_exist(),
                    )
                    kinds.append("payment")
                if posting.changed_payment is not None:
                    transaction.save(payment_store.to_item(posting.changed_payment))
                    kinds.append("moved")
                for bill in posting.new_bills:
                    transaction.save(bill_store.to_item(bill), condition=BillItem.bill_id.does_not_exist())
                    kinds.append("bill")
                for bill in posting.changed_bills:
                    if bill.version is None:
                        raise ValueError(f"bill {bill.bill_id} changed without the version it was read with")
                    transaction.save(bill_store.to_item(bill))
                    kinds.append("moved")
                transaction.save(to_item(posting.account, updated_at=now))
                kinds.append("moved")
                if posting.counter is not None:
                    name, value = posting.counter
                    condition = (
                        CounterItem.name.does_not_exist() if value is None else CounterItem.value == value
                    )
                    # A put, like every item here: pynamodb sends puts before updates, and the
                    # cancellation reasons follow the order sent (``kinds``).
                    transaction.save(CounterItem(name, value=(value or 0) + 1), condition=condition)
                    kinds.append("moved")
                for refund in posting.refunds:
                    if refund.version is None:
                        raise ValueError(f"refund {refund.refund_id} settled without its version")
                    transaction.save(refund_store.to_item(refund))
                    kinds.append("moved")
                for entry in posting.entries:
                    ledger_item = LedgerItem(
                        entity=entry.entity, seq=entry.key, event=entry.event, at=entry.at, data=entry.data
                    )
                    transaction.save(ledger_item, condition=LedgerItem.seq.does_not_exist())
                    kinds.append("entry")
        except TransactWriteError as exc:
            result = _why_cancelled(exc, kinds)
            if result is None:
                raise
            return result
        return PostResult.POSTED


def _why_cancelled(exc: TransactWriteError, kinds: list[str]) -> PostResult | None:
    """The answer a cancelled transaction gives, from the first item that failed; None when it
    is not an answer but an error (raised on: the caller's retry or the queue's)."""
    if exc.cause_response_code != "TransactionCanceledException":
        return None
    codes = [reason.code if reason else None for reason in exc.cancellation_reasons]
    for index, code in enumerate(codes):
        if code != _CONDITION_FAILED:
            continue
        what = kinds[index] if index < len(kinds) else "moved"
        if what == "entry":
            return None  # an entry written before its posting: a bug, not a race
        return {"payment": PostResult.PAYMENT_EXISTS, "bill": PostResult.BILL_EXISTS}.get(
            what, PostResult.MOVED_ON
        )
    return PostResult.MOVED_ON if _CONFLICT in codes else None
