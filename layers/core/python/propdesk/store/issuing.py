"""The batch path of a notice cycle: bills written in batches, exactly once, without transactions.

A bill for a unit whose account holds no credit (and already names the bill's owner) needs no
transaction: nothing pays it at issue, and the account is not written at all (readers find the
bill through its charge entry: ``AccountStore.with_new_bills``). Such bills are written with
BatchWriteItem, 25 items a request: the bill, then its ONE ledger entry, the account's
``charge#<bill>``. What keeps it exactly once:

- *the batch lease*: a worker takes a lease on its batch (``issuing#<period>#<digest of the
  unit ids>`` in the counters table, a conditional put) before it reads anything, and gives it
  back when it is done. A copy of the same message delivered at the same time finds the lease
  held and is retried by the queue later, when it reads the bills as issued. The lease outlives
  the notices function's timeout, so a holder that crashed is dead before another takes it over.
- *only absent bills are put*: under the lease, a bill is written only if the batch's
  consistent read found none, so an unconditional put can only create a bill, never overwrite
  one a payment has touched (a payment changes only a bill it has read, i.e. one that exists).
- *entries after bills*: a charge entry is put only once its bill is stored, so a charge always
  names a bill; a run that stopped in between is rerun, finds the bill and puts its entry again
  (the same key and content: the same entry).
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from propdesk.domain.billing import Bill
from propdesk.store import bills as bill_store
from propdesk.store.models import AccountItem, BillItem, CounterItem, LedgerItem

BATCH_WRITE_LIMIT = 25  # items per BatchWriteItem request (DynamoDB's limit)
# Longer than the notices function's timeout (300 s) and shorter than its queue's visibility
# timeout (360 s): a crashed holder is gone before the lease runs out, and the queue's retry of
# its message can take the lease over.
ISSUE_LEASE = timedelta(seconds=330)
_CONDITION_FAILED = "ConditionalCheckFailedException"


class BatchInFlight(RuntimeError):
    """Another invocation holds this batch's lease (a copy of the message): retry later."""


def _client() -> Any:
    return AccountItem._get_connection().connection.client


def _table(model: type) -> str:
    model._get_connection()  # type: ignore[attr-defined]  # names the table from the settings
    return model.Meta.table_name  # type: ignore[attr-defined]


def lease_name(period: str, unit_ids: Sequence[str]) -> str:
    """The batch's lease: the same units and period, the same name, however they are ordered."""
    digest = hashlib.sha256("\n".join(sorted(set(unit_ids))).encode()).hexdigest()[:32]
    return f"issuing#{period}#{digest}"


def take_lease(name: str, *, now: datetime, lease: timedelta = ISSUE_LEASE) -> str:
    """Hold ``name`` until ``now + lease`` (one conditional put); the token gives it back.
    ``BatchInFlight`` while another holder's lease lies ahead."""
    token = secrets.token_hex(8)
    until = int((now.astimezone(UTC) + lease).timestamp())
    try:
        _client().put_item(
            TableName=_table(CounterItem),
            Item={"name": {"S": name}, "value": {"N": str(until)}, "holder": {"S": token}},
            ConditionExpression="attribute_not_exists(#name) OR #value < :now",
            ExpressionAttributeNames={"#name": "name", "#value": "value"},
            ExpressionAttributeValues={":now": {"N": str(int(now.astimezone(UTC).timestamp()))}},
        )
    except _client().exceptions.ConditionalCheckFailedException as exc:
        raise BatchInFlight(name) from exc
    return token


def give_back(name: str, token: str) -> None:
    """Release the lease (only if still ours), so a rerun of the batch need not wait for it."""
    try:
        _client().delete_item(
            TableName=_table(CounterItem),
            Key={"name": {"S": name}},
            ConditionExpression="holder = :token",
            ExpressionAttributeValues={":token": {"S": token}},
        )
    except _client().exceptions.ConditionalCheckFailedException:
        pass  # it ran out and another took it: theirs now


def charge_entry(bill: Bill) -> LedgerItem:
    """The bill's one ledger entry: the charge on its unit's account (what, how much, which
    fee standard), keyed by the bill so writing it again is the same entry."""
    return LedgerItem(
        entity=f"account#{bill.unit_id}",
        seq=f"charge#{bill.bill_id}",
        event="charge",
        at=bill.issued_at,
        data={
            "bill_id": bill.bill_id,
            "currency": bill.currency,
            "amount_minor": bill.total_minor,
        },
    )


def bill_row(bill: Bill) -> dict[str, Any]:
    """The bill as DynamoDB stores it, at version 1 (a posting that pays it later writes it
    under the version it read, as for a bill issued in a transaction)."""
    item = bill_store.to_item(bill)
    item.version = 1
    return item.serialize()


def write_bills(bills: Iterable[Bill]) -> int:
    """Put the bills, then their charge entries, 25 items a request; DynamoDB's unprocessed
    items are sent again (backing off). The entries follow the bills, so a charge always names
    a bill that exists. Returns the number of requests made."""
    bills = list(bills)
    return _batch_write(_table(BillItem), [bill_row(b) for b in bills]) + write_charges(bills)


def write_charges(bills: Iterable[Bill]) -> int:
    """Put the bills' charge entries (the same entry again, for a bill issued by a run that
    stopped before its entries were written)."""
    return _batch_write(_table(LedgerItem), [charge_entry(b).serialize() for b in bills])


def _batch_write(table: str, rows: list[dict[str, Any]]) -> int:
    requests = 0
    for start in range(0, len(rows), BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {
            table: [{"PutRequest": {"Item": row}} for row in rows[start : start + BATCH_WRITE_LIMIT]]
        }
        for attempt in itertools.count():
            if not pending:
                break
            if attempt:
                time.sleep(min(0.05 * 2**attempt, 1.0))  # throttled: back off
            response = _client().batch_write_item(RequestItems=pending)
            requests += 1
            pending = response.get("UnprocessedItems") or {}
    return requests
