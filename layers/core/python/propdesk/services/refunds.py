"""Refunds and disputes (退款与拒付, F4 item 6): money that goes back to the payer, and the bills it
had paid open again.

- **Staff start a refund** of a landed payment (``start_refund``), keyed on the request id of
  their screen (a retried request is one refund), for at most what is left of it: its amount less
  what was refunded and what refunds on their way hold (``PaymentRecord.pending_refunds``, written
  with the refund in one transaction, so two refunds at once never take back more than it brought).
  Above ``payment.refund_approval_minor`` it waits for an admin other than the one who asked
  (``approve_refund``; RELIABILITY 32).
- **Executing it**: a Stripe payment is refunded through Stripe's Refunds API (idempotency key:
  the refund id) and its money is posted when Stripe's ``charge.refunded`` arrives; a desk payment
  is paid back at the desk and posted at once.
- **The posting** (``reversal``, pure): first what of the payment's credit the account still
  holds, then its allocations, newest bill first, then credit of it that later bills used (found in
  the account's ledger); every bill touched opens again. Money is conserved: for every payment,
  amount == allocated + credit + refunded, and nothing is ever negative.
- **Stripe's events**: ``charge.refunded`` posts the difference between Stripe's cumulative
  refunded amount and ours, so repeats and late deliveries change nothing; ``charge.dispute.created``
  reverses the disputed amount and puts the payment in the staff queue (a metric raises an alarm);
  ``checkout.session.async_payment_failed`` tells the owner, with the pay link. The owner is told of
  every reversal (``payment_refunded``).
- **Money for bills settled meanwhile** (RELIABILITY 31): with ``payment.surplus: refund`` an
  online payment that landed as a duplicate is refunded in full at once (``refund_surplus``) and
  its receipt says so; with ``credit`` (the default) it stays credit for staff to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Literal

from aws_lambda_powertools import Logger

from propdesk.config import PropertyConfig
from propdesk.domain.accounts import Allocation, AllocationOrder
from propdesk.domain.billing import STATUS_OPEN, Bill
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.payments import port
from propdesk.payments.events import PROVIDER as STRIPE
from propdesk.payments.events import ChargeRefunded, CheckoutFailed, DisputeOpened
from propdesk.payments.links import pay_links
from propdesk.queues import QueueProducer
from propdesk.services.errors import DeskError
from propdesk.settings import get_settings
from propdesk.store import ledger
from propdesk.store.accounts import Account, AccountStore, Entry, Posting, PostResult
from propdesk.store.payments import (
    ALLOCATED,
    DISPUTE,
    DUPLICATE,
    REFUNDED,
    REVIEW_OPEN,
    VOIDED,
    PaymentRecord,
)
from propdesk.store.refunds import (
    APPROVED,
    FAILED,
    IN_FLIGHT,
    PENDING_APPROVAL,
    SENT,
    SUCCEEDED,
    RefundRecord,
    RefundRepository,
    Written,
)

logger = Logger(child=True)

DESK = "desk"  # the provider of payments taken at the desk (services.desk.DESK_PROVIDER)
ORDER_RAILS = ("wechat_pay", "alipay")  # refunded through their own APIs (payments.rails)
REFUNDABLE_PROVIDERS = (STRIPE, DESK, *ORDER_RAILS)
PROVIDER_NAMES = {STRIPE: "Stripe", "wechat_pay": "WeChat Pay", "alipay": "Alipay"}
SURPLUS = "system:surplus"  # who asks for the automatic refund of money for settled bills
MAX_ATTEMPTS = 8

Kind = Literal["refund", "dispute"]
Notify = Callable[[Sequence[MessageRequest]], Any]
CreditPaid = Callable[[str], dict[str, int]]  # unit id -> {bill id: what the account's credit paid of it}


def refund_id_for(request_id: str) -> str:
    """A staff member's refund: the same request again is the same refund."""
    return f"rf_{request_id}"


def _safe(payment_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", payment_id)


def surplus_refund_id(payment_id: str) -> str:
    return f"rf_surplus-{_safe(payment_id)}"


def queue_refund_id(payment_id: str) -> str:
    return f"rf_queue-{_safe(payment_id)}"


# --- the posting (pure) --------------------------------------------------------------------------


def _period(bill_id: str, bills: Mapping[str, Bill]) -> str:
    bill = bills.get(bill_id)
    return bill.period if bill else bill_id.rsplit("#", 1)[-1]


def _taken_back(allocation: Allocation, amount: int, order: AllocationOrder) -> Allocation:
    """``allocation`` less ``amount``: what it paid last is taken back first."""
    late_fee, principal = allocation.late_fee_minor, allocation.principal_minor
    if order == "principal_first":
        from_late_fee = min(amount, late_fee)
        return Allocation(allocation.bill_id, principal - (amount - from_late_fee), late_fee - from_late_fee)
    from_principal = min(amount, principal)
    return Allocation(allocation.bill_id, principal - from_principal, late_fee - (amount - from_principal))


def spent_credit_needed(record: PaymentRecord, account: Account, amount_minor: int) -> int:
    """How much of ``amount_minor`` must come from credit of the payment that later bills used
    (what the account's credit and the payment's allocations cannot give back)."""
    held = min(amount_minor, record.credit_minor, account.credit_minor)
    return max(0, min(amount_minor - held - record.allocated_minor, record.credit_minor - held))


def reversal(
    record: PaymentRecord,
    account: Account,
    bills: Mapping[str, Bill],
    amount_minor: int,
    *,
    key: str,
    now: datetime,
    kind: Kind = "refund",
    credit_paid: Mapping[str, int] | None = None,
    settles: Sequence[RefundRecord] = (),
    order: AllocationOrder = "principal_first",
) -> Posting:
    """Pure: the posting that gives ``amount_minor`` of ``record`` back to the payer.

    It takes back, in turn: what of the payment's credit the account still holds; its
    allocations, newest bill first; the payment's credit that later bills used (``credit_paid``,
    bill id -> what the account's credit paid of it, newest bill first). Every bill it takes money
    from opens again. ``key`` names this reversal in the ledger (a refund id, a dispute id).
    ``settles`` are refunds this posting completes: written as succeeded, their hold released.
    Raises ``DeskError`` (409) when the payment cannot give that much back."""
    left = record.amount_minor - record.refunded_minor
    if amount_minor <= 0 or amount_minor > left:
        raise DeskError(409, "refund_too_large", f"At most {left} minor units of this payment can go back.")
    account_entity = ledger.account_entity(account.unit_id)
    common = {
        "payment_id": record.payment_id,
        "currency": record.currency,
        "receipt_no": record.receipt_no or "",
    }
    entries: list[Entry] = []
    changed: dict[str, Bill] = {}

    def take_from_bill(bill_id: str, amount: int) -> int:
        bill = changed.get(bill_id) or bills.get(bill_id)
        if bill is None:
            raise DeskError(409, "bill_missing", f"Bill {bill_id} is not readable; try again.")
        taken = min(amount, bill.paid_minor)
        if taken:
            changed[bill_id] = replace(
                bill, paid_minor=bill.paid_minor - taken, status=STATUS_OPEN, paid_at=None
            )
        return taken

    held = min(amount_minor, record.credit_minor, account.credit_minor)
    rest = amount_minor - held
    if held:
        entries.append(
            Entry(
                account_entity,
                f"{kind}_credit#{key}",
                "credit_reversed",
                now,
                {**common, "amount_minor": held},
            )
        )
    allocations = {a.bill_id: a for a in record.allocations}
    for allocation in sorted(record.allocations, key=lambda a: _period(a.bill_id, bills), reverse=True):
        if not rest:
            break
        taken = take_from_bill(allocation.bill_id, min(rest, allocation.amount_minor))
        if not taken:
            continue
        rest -= taken
        allocations[allocation.bill_id] = _taken_back(allocation, taken, order)
        data = {**common, "bill_id": allocation.bill_id, "amount_minor": taken}
        entries.append(
            Entry(account_entity, f"{kind}#{key}#{allocation.bill_id}", "allocation_reversed", now, data)
        )
        entries.append(Entry(ledger.bill_entity(allocation.bill_id), f"{kind}#{key}", "reopened", now, data))
    spent = min(rest, record.credit_minor - held)
    spent_left = spent
    for bill_id, paid_by_credit in sorted(
        (credit_paid or {}).items(), key=lambda item: _period(item[0], bills), reverse=True
    ):
        if not spent_left:
            break
        taken = take_from_bill(bill_id, min(spent_left, paid_by_credit))
        if not taken:
            continue
        spent_left -= taken
        data = {**common, "bill_id": bill_id, "amount_minor": taken}
        entries.append(
            Entry(account_entity, f"credit_unapplied#{bill_id}#{key}", "credit_unapplied", now, data)
        )
        entries.append(Entry(ledger.bill_entity(bill_id), f"{kind}_credit#{key}", "reopened", now, data))
    rest -= spent - spent_left
    if rest:
        # The books do not show where the money went (a bug upstream): refuse rather than invent.
        raise DeskError(
            409, "cannot_reverse", f"{rest} minor units of this payment cannot be found to take back."
        )
    refunded = record.refunded_minor + amount_minor
    settled_ids = {refund.refund_id for refund in settles}
    new_record = replace(
        record,
        allocations=tuple(a for a in allocations.values() if a.amount_minor > 0),
        credit_minor=record.credit_minor - held - (spent - spent_left),
        refunded_minor=refunded,
        disputed_minor=record.disputed_minor + (amount_minor if kind == "dispute" else 0),
        status=REFUNDED if refunded == record.amount_minor else record.status,
        pending_refunds=tuple(p for p in record.pending_refunds if p[0] not in settled_ids),
    )
    if kind == "dispute":
        new_record = replace(new_record, review_state=REVIEW_OPEN, review_reason=DISPUTE)
    elif new_record.status == REFUNDED and record.review_state == REVIEW_OPEN:
        new_record = replace(new_record, review_state=None, review_note="refunded in full")
    entries.append(
        Entry(account_entity, f"{kind}#{key}", kind, now, {**common, "amount_minor": amount_minor})
    )
    entries.append(
        Entry(
            ledger.payment_entity(record.payment_id),
            f"{kind}#{key}",
            "disputed" if kind == "dispute" else "refunded",
            now,
            {"amount_minor": amount_minor, "refunded_minor": refunded, "currency": record.currency},
        )
    )
    reopened = [bill_id for bill_id, bill in changed.items() if bill.total_minor > bill.paid_minor]
    open_ids = sorted(
        dict.fromkeys([*account.open_bill_ids, *reopened]), key=lambda bill_id: _period(bill_id, bills)
    )
    return Posting(
        account=replace(account, credit_minor=account.credit_minor - held, open_bill_ids=tuple(open_ids)),
        changed_bills=tuple(changed.values()),
        changed_payment=new_record,
        entries=tuple(entries),
        refunds=tuple(replace(refund, status=SUCCEEDED, updated_at=now) for refund in settles),
    )


def credit_paid_from(entries: Sequence[ledger.LedgerEntry]) -> dict[str, int]:
    """Pure: what the account's credit paid of each bill, from its ``credit_applied`` entries (a
    bill issued on credit) less its ``credit_unapplied`` ones (taken back by a reversal)."""
    paid: dict[str, int] = {}
    for entry in entries:
        bill_id = str(entry.data.get("bill_id") or "")
        amount = int(entry.data.get("amount_minor") or 0)
        if entry.event == "credit_applied":
            paid[bill_id] = paid.get(bill_id, 0) + amount
        elif entry.event == "credit_unapplied":
            paid[bill_id] = paid.get(bill_id, 0) - amount
    return {bill_id: amount for bill_id, amount in paid.items() if bill_id and amount > 0}


def credit_paid_of(unit_id: str) -> dict[str, int]:
    return credit_paid_from(ledger.entries(ledger.account_entity(unit_id), "credit_"))


# --- reading what a reversal needs, and posting it -----------------------------------------------


@dataclass(frozen=True)
class Stores:
    accounts: AccountStore
    refunds: RefundRepository
    notify: Notify
    credit_paid: CreditPaid


def _stores(
    store: AccountStore | None,
    refunds: RefundRepository | None,
    notify: Notify | None,
    credit_paid: CreditPaid | None,
) -> Stores:
    return Stores(
        accounts=store or AccountStore(),
        refunds=refunds or RefundRepository(),
        notify=notify or QueueProducer(MESSAGES_QUEUE).send,
        credit_paid=credit_paid or credit_paid_of,
    )


def _reversal_posting(
    record: PaymentRecord,
    amount_minor: int,
    *,
    key: str,
    kind: Kind,
    settles: Sequence[RefundRecord],
    config: PropertyConfig,
    now: datetime,
    stores: Stores,
) -> Posting:
    """Read the account and the bills the reversal touches, and make its posting."""
    snapshot = stores.accounts.snapshot(
        unit_id=record.unit_id, bill_ids=[a.bill_id for a in record.allocations]
    )
    if snapshot.account is None:
        raise DeskError(409, "no_account", "The payment's account is missing.")
    bills = dict(snapshot.bills)
    credit_paid: dict[str, int] = {}
    if spent_credit_needed(record, snapshot.account, amount_minor):
        # Its credit paid later bills since: take it back from them (a second read, rare).
        credit_paid = stores.credit_paid(snapshot.account.unit_id)
        bills.update(stores.accounts.snapshot(bill_ids=[b for b in credit_paid if b not in bills]).bills)
    return reversal(
        record,
        snapshot.account,
        bills,
        amount_minor,
        key=key,
        now=now,
        kind=kind,
        credit_paid=credit_paid,
        settles=settles,
        order=config.payment.allocation_order,
    )


def reversal_message(posting: Posting, *, amount_minor: int, key: str, kind: Kind) -> MessageRequest | None:
    """The owner's message: what went back, and which bills are open again."""
    record = posting.changed_payment
    owner_id = posting.account.owner_id
    if record is None or not owner_id:
        return None
    return MessageRequest(
        message_id=f"payment_refunded#{record.payment_id}#{key}"[:200],
        template="payment_refunded",
        owner_id=owner_id,
        channels=("email", "sms"),
        context={
            "payment_id": record.payment_id,
            "receipt_no": record.receipt_no or record.payment_id,
            "unit_id": record.unit_id,
            "amount_minor": amount_minor,
            "refunded_minor": record.refunded_minor,
            "currency": record.currency,
            "disputed": kind == "dispute",
            "at_desk": record.provider == DESK,
            "reopened": [
                {"bill_id": b.bill_id, "period": b.period, "owed_minor": b.total_minor - b.paid_minor}
                for b in sorted(posting.changed_bills, key=lambda b: b.period)
                if b.total_minor > b.paid_minor
            ],
        },
    )


def _post_reversal(
    payment_id: str,
    *,
    amount: Callable[[PaymentRecord], int],
    key: str,
    kind: Kind,
    settles: Callable[[PaymentRecord, int], Sequence[RefundRecord]],
    config: PropertyConfig,
    now: datetime,
    stores: Stores,
) -> tuple[PaymentRecord, int] | None:
    """Read, reverse ``amount(payment)`` of the payment, post; again when the account moved.
    The payment after it and what went back; None when nothing was left to reverse."""
    for _ in range(MAX_ATTEMPTS):
        record = stores.accounts.snapshot(payment_id=payment_id).payment
        if record is None:
            raise DeskError(404, "not_found", "No payment with this id.")
        wanted = amount(record)
        if wanted <= 0:
            return None
        settled = settles(record, wanted)
        if record.status == VOIDED and kind == "refund":
            raise DeskError(409, "voided", "This payment is voided; there is nothing to refund.")
        if record.status != ALLOCATED:
            # On no account (set aside): only the payment changes.
            changed = _off_account(record, wanted, key=key, kind=kind, settles=settled, now=now)
            written = stores.refunds.write(
                changed=[replace(r, status=SUCCEEDED, updated_at=now) for r in settled],
                payment=changed,
                entries=[
                    Entry(
                        ledger.payment_entity(payment_id),
                        f"{kind}#{key}",
                        "disputed" if kind == "dispute" else "refunded",
                        now,
                        {"amount_minor": wanted, "refunded_minor": changed.refunded_minor},
                    )
                ],
            )
            if written is Written.WRITTEN:
                return changed, wanted
            continue
        posting = _reversal_posting(
            record, wanted, key=key, kind=kind, settles=settled, config=config, now=now, stores=stores
        )
        result = stores.accounts.post(posting, now=now)
        if result is PostResult.POSTED:
            changed = posting.changed_payment
            assert changed is not None
            logger.info(
                "payment reversed",
                payment_id=payment_id,
                kind=kind,
                amount_minor=wanted,
                refunded_minor=changed.refunded_minor,
                reopened=len(posting.changed_bills),
            )
            message = reversal_message(posting, amount_minor=wanted, key=key, kind=kind)
            if message is not None:
                stores.notify([message])
            return changed, wanted
        logger.info("reversal retried", payment_id=payment_id, reason=result.value)
    raise DeskError(409, "busy", "The account kept changing; try again.")


def _off_account(
    record: PaymentRecord,
    amount_minor: int,
    *,
    key: str,
    kind: Kind,
    settles: Sequence[RefundRecord],
    now: datetime,
) -> PaymentRecord:
    """A set-aside payment (on no account) giving ``amount_minor`` back: only its record changes."""
    refunded = record.refunded_minor + amount_minor
    settled_ids = {refund.refund_id for refund in settles}
    changed = replace(
        record,
        refunded_minor=refunded,
        disputed_minor=record.disputed_minor + (amount_minor if kind == "dispute" else 0),
        status=REFUNDED if refunded >= record.amount_minor else record.status,
        pending_refunds=tuple(p for p in record.pending_refunds if p[0] not in settled_ids),
    )
    if kind == "dispute":
        return replace(changed, review_state=REVIEW_OPEN, review_reason=DISPUTE)
    if changed.status == REFUNDED:
        return replace(changed, review_state=None, review_note="refunded in full")
    return changed


# --- staff start, approve and execute refunds ---------------------------------------------------


@dataclass(frozen=True)
class Started:
    refund: RefundRecord
    created: bool  # False: this request id was seen before; this is that refund


def _check_refundable(record: PaymentRecord, config: PropertyConfig) -> None:
    if record.status == VOIDED:
        raise DeskError(409, "voided", "This payment is voided; there is nothing to refund.")
    if record.status == REFUNDED:
        raise DeskError(409, "refunded", "This payment is refunded in full already.")
    if record.status != ALLOCATED:
        raise DeskError(
            409,
            "not_landed",
            "This payment is on no account (set aside): place it on a unit first, or refund it in the "
            "provider's dashboard (PropDesk records that refund when the provider reports it).",
        )
    if record.currency != config.currency:
        raise DeskError(409, "other_currency", "A payment in another currency is refunded by the provider.")
    if record.provider not in REFUNDABLE_PROVIDERS:
        raise DeskError(
            409, "provider_cannot_refund", "Payments of this provider are refunded by the provider."
        )


def _open(
    payment_id: str,
    refund_id: str,
    *,
    amount: int | None,
    reason: str,
    requested_by: str,
    config: PropertyConfig,
    now: datetime,
    stores: Stores,
    needs_approval: bool,
    from_queue: str | None = None,
) -> Started | None:
    """Record a refund of ``amount`` (None: all that is left) with the hold on its payment, in one
    transaction; the stored one if ``refund_id`` was used already. None: nothing left to refund."""
    for _ in range(MAX_ATTEMPTS):
        existing = stores.refunds.get(refund_id)
        if existing is not None:
            if existing.payment_id != payment_id or (amount is not None and existing.amount_minor != amount):
                raise DeskError(
                    409, "request_reused", "This request id was used for another refund; start a new one."
                )
            return Started(existing, created=False)
        record = stores.accounts.snapshot(payment_id=payment_id).payment
        if record is None:
            raise DeskError(404, "not_found", "No payment with this id.")
        if from_queue is not None and record.review_state != REVIEW_OPEN:
            raise DeskError(409, "not_in_queue", "This payment is not waiting for staff.")
        _check_refundable(record, config)
        wanted = record.refundable_minor if amount is None else amount
        if amount is None and wanted <= 0:
            return None
        if wanted > record.refundable_minor:
            raise DeskError(
                409,
                "refund_too_large",
                f"At most {max(record.refundable_minor, 0)} minor units of this payment can be refunded now "
                f"(amount {record.amount_minor}, refunded {record.refunded_minor}, on its way "
                f"{record.refund_pending_minor}).",
            )
        # Counted with what this payment has refunded and has on its way, so splitting a refund
        # into small ones does not avoid the approval.
        refunded_so_far = record.refunded_minor + record.refund_pending_minor
        approval = needs_approval and refunded_so_far + wanted > config.payment.refund_approval_minor
        refund = RefundRecord(
            refund_id=refund_id,
            payment_id=payment_id,
            unit_id=record.unit_id,
            amount_minor=wanted,
            currency=record.currency,
            reason=reason,
            requested_by=requested_by,
            status=PENDING_APPROVAL if approval else APPROVED,
            created_at=now,
            updated_at=now,
        )
        held = replace(record, pending_refunds=(*record.pending_refunds, (refund_id, wanted)))
        if from_queue is not None:
            held = replace(held, review_state=None, review_note=from_queue)
        entry = Entry(
            ledger.payment_entity(payment_id),
            f"refund_requested#{refund_id}",
            "refund_requested",
            now,
            {"refund_id": refund_id, "amount_minor": wanted, "by": requested_by, "status": refund.status},
        )
        written = stores.refunds.write(new=refund, payment=held, entries=[entry])
        if written is Written.WRITTEN:
            logger.info(
                "refund requested",
                refund_id=refund_id,
                payment_id=payment_id,
                amount_minor=wanted,
                status=refund.status,
            )
            return Started(replace(refund, version=1), created=True)
        # EXISTS: the same request raced us (the next read finds it); MOVED: read the payment again.
    raise DeskError(409, "busy", "The payment kept changing; try again.")


def rail_refund(refund: RefundRecord, payment: PaymentRecord, config: PropertyConfig) -> port.RefundResult:
    """Send ``refund`` through the payment's own rail's adapter (Stripe, WeChat Pay, Alipay),
    keyed on the refund id (Stripe's idempotency key, WeChat Pay's out_refund_no, Alipay's
    out_request_no: a retry is one refund). The payment's rail, offered for new payments or not."""
    from propdesk.payments import rails as offered

    reason = refund.reason or "物业费退款"
    if payment.provider == STRIPE:  # Stripe takes a reason code
        reason = "duplicate" if refund.requested_by == SURPLUS else "requested_by_customer"
    return offered.adapter(payment.provider, get_settings()).refund(
        payment.payment_id.split(":", 1)[1],
        refund_id=refund.refund_id,
        amount_minor=refund.amount_minor,
        total_minor=payment.amount_minor,
        reason=reason,
    )


def _execute(refund: RefundRecord, *, config: PropertyConfig, now: datetime, stores: Stores) -> RefundRecord:
    """Send an approved refund: through the payment's rail (posted at once when the rail says it
    is done, as Alipay does; else when it confirms: Stripe's charge.refunded, WeChat Pay's
    REFUND.SUCCESS), or at the desk (posted now)."""
    if refund.status != APPROVED:
        return refund
    payment = stores.accounts.snapshot(payment_id=refund.payment_id).payment
    if payment is None:
        raise DeskError(404, "not_found", "No payment with this id.")
    if payment.provider == DESK:
        return _pay_out_at_desk(refund, config=config, now=now, stores=stores)
    name = PROVIDER_NAMES.get(payment.provider, payment.provider)
    try:
        result = rail_refund(refund, payment, config)
        if result.state == "succeeded":
            logger.info("refund done by the rail", refund_id=refund.refund_id, payment_id=refund.payment_id)
            return settle_now(
                refund.refund_id, result.provider_refund_id, config=config, now=now, stores=stores
            )
        provider_refund_id = result.provider_refund_id or refund.refund_id
    except port.ProviderRefused as refused:
        _fail(refund.refund_id, code=refused.code, now=now, stores=stores)
        raise DeskError(409, "provider_refused", f"{name} refused the refund: {refused.message}") from None
    except port.ProviderUnavailable:
        raise DeskError(
            503,
            "provider_unavailable",
            f"{name} could not be reached. The refund is approved; send the same request again to send it.",
        ) from None
    logger.info("refund sent", refund_id=refund.refund_id, payment_id=refund.payment_id)
    return _mark_sent(refund.refund_id, provider_refund_id, now=now, stores=stores)


def settle_now(
    refund_id: str, provider_refund_id: str | None, *, config: PropertyConfig, now: datetime, stores: Stores
) -> RefundRecord:
    """The provider says the refund is done: post it (the payment's bills and credit reversed,
    the owner told), settling exactly this refund. Again: nothing more."""

    def current() -> RefundRecord | None:
        found = stores.refunds.get(refund_id)
        return found if found is not None and found.status in IN_FLIGHT else None

    def settles(record: PaymentRecord, _: int) -> Sequence[RefundRecord]:
        found = current()
        if found is None:
            return []
        return [replace(found, provider_refund_id=provider_refund_id or found.provider_refund_id)]

    def amount(record: PaymentRecord) -> int:
        found = current()
        return found.amount_minor if found is not None else 0

    first = stores.refunds.get(refund_id)
    if first is None:
        raise DeskError(404, "not_found", "No refund with this id.")
    _post_reversal(
        first.payment_id,
        amount=amount,
        key=refund_id,
        kind="refund",
        settles=settles,
        config=config,
        now=now,
        stores=stores,
    )
    settled = stores.refunds.get(refund_id)
    assert settled is not None
    return settled


def record_rail_refund(
    reported: port.ProviderRefund,
    *,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    refunds: RefundRepository | None = None,
    notify: Notify | None = None,
) -> Outcome:
    """A rail's notification that one of our refunds finished: posted once if it succeeded (its
    hold released if it failed). A refund we never asked for is left to staff (logged)."""
    stores = _stores(store, refunds, notify, None)
    refund = stores.refunds.get(reported.refund_id)
    if refund is None or refund.payment_id != f"{reported.rail}:{reported.order_id}":
        logger.warning("refund notification for a refund we did not ask", rail=reported.rail)
        return "ignored"
    if refund.status not in IN_FLIGHT:
        return "already_recorded"
    if reported.state == "abnormal":
        # The money left and bounced at the owner's bank: the hold stays until staff finish it in
        # the merchant platform (and its REFUND.SUCCESS then posts it).
        logger.error("refund abnormal at the provider: staff must finish it", refund_id=refund.refund_id)
        return "ignored"
    if reported.state == "failed":
        _fail(refund.refund_id, code="refund_failed", now=now, stores=stores)
        return "ignored"
    settle_now(refund.refund_id, reported.provider_refund_id, config=config, now=now, stores=stores)
    return "refunded"


def _mark_sent(refund_id: str, provider_refund_id: str, *, now: datetime, stores: Stores) -> RefundRecord:
    """The provider took it. (Its ``charge.refunded`` may have settled it already: keep that.)"""
    for _ in range(MAX_ATTEMPTS):
        current = stores.refunds.get(refund_id)
        assert current is not None
        if current.provider_refund_id == provider_refund_id and current.status != APPROVED:
            return current
        status = SENT if current.status == APPROVED else current.status
        changed = replace(current, status=status, provider_refund_id=provider_refund_id, updated_at=now)
        if stores.refunds.write(changed=[changed]) is Written.WRITTEN:
            return replace(changed, version=(current.version or 0) + 1)
    raise DeskError(409, "busy", "The refund kept changing; read it again.")


def _fail(refund_id: str, *, code: str, now: datetime, stores: Stores) -> None:
    """The provider refused it: the refund failed, its hold on the payment is released."""
    for _ in range(MAX_ATTEMPTS):
        current = stores.refunds.get(refund_id)
        record = stores.accounts.snapshot(payment_id=current.payment_id).payment if current else None
        if current is None or record is None or current.status not in IN_FLIGHT:
            return
        released = replace(
            record, pending_refunds=tuple(p for p in record.pending_refunds if p[0] != refund_id)
        )
        entry = Entry(
            ledger.payment_entity(record.payment_id),
            f"refund_failed#{refund_id}",
            "refund_failed",
            now,
            {"refund_id": refund_id, "code": code},
        )
        failed = replace(current, status=FAILED, failure=code, updated_at=now)
        if stores.refunds.write(changed=[failed], payment=released, entries=[entry]) is Written.WRITTEN:
            logger.warning("refund refused by the provider", refund_id=refund_id, code=code)
            return


def _pay_out_at_desk(
    refund: RefundRecord, *, config: PropertyConfig, now: datetime, stores: Stores
) -> RefundRecord:
    """A desk payment's refund is paid back at the desk: posted now, the refund settled with it."""

    def settles(record: PaymentRecord, _: int) -> Sequence[RefundRecord]:
        current = stores.refunds.get(refund.refund_id)
        if current is None or current.status != APPROVED:
            return []
        # Paid back by whoever's action released it: the asker, or the admin who approved it.
        return [replace(current, paid_out_by=current.approved_by or current.requested_by, paid_out_at=now)]

    def amount(record: PaymentRecord) -> int:
        current = stores.refunds.get(refund.refund_id)
        return current.amount_minor if current is not None and current.status == APPROVED else 0

    _post_reversal(
        refund.payment_id,
        amount=amount,
        key=refund.refund_id,
        kind="refund",
        settles=settles,
        config=config,
        now=now,
        stores=stores,
    )
    settled = stores.refunds.get(refund.refund_id)
    assert settled is not None
    return settled


def start_refund(
    payment_id: str,
    *,
    request_id: str,
    amount_minor: int,
    reason: str,
    staff_id: str,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    refunds: RefundRepository | None = None,
    notify: Notify | None = None,
    credit_paid: CreditPaid | None = None,
) -> Started:
    """Staff start a refund of a landed payment (see the module's docstring)."""
    stores = _stores(store, refunds, notify, credit_paid)
    started = _open(
        payment_id,
        refund_id_for(request_id),
        amount=amount_minor,
        reason=reason,
        requested_by=staff_id,
        config=config,
        now=now,
        stores=stores,
        needs_approval=True,
    )
    assert started is not None
    refund = _execute(started.refund, config=config, now=now, stores=stores)
    return replace(started, refund=refund)


def approve_refund(
    refund_id: str,
    *,
    approver: str,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    refunds: RefundRepository | None = None,
    notify: Notify | None = None,
    credit_paid: CreditPaid | None = None,
) -> RefundRecord:
    """An admin approves a refund that waits for it; not the one who asked (RELIABILITY 32)."""
    stores = _stores(store, refunds, notify, credit_paid)
    for _ in range(MAX_ATTEMPTS):
        current = stores.refunds.get(refund_id)
        if current is None:
            raise DeskError(404, "not_found", "No refund with this id.")
        if approver == current.requested_by:
            raise DeskError(
                403, "self_approval", "A refund is approved by an admin other than the one who asked for it."
            )
        if current.status == APPROVED and current.approved_by:
            # Approved before, and the provider could not be reached then: send it now.
            return _execute(current, config=config, now=now, stores=stores)
        if current.status != PENDING_APPROVAL:
            raise DeskError(
                409, "not_pending", f"This refund is not waiting for approval (it is {current.status})."
            )
        payment = stores.accounts.snapshot(payment_id=current.payment_id).payment
        if payment is None or payment.status == VOIDED:
            raise DeskError(409, "voided", "The payment was voided meanwhile; there is nothing to refund.")
        approved = replace(current, status=APPROVED, approved_by=approver, updated_at=now)
        entry = Entry(
            ledger.payment_entity(current.payment_id),
            f"refund_approved#{refund_id}",
            "refund_approved",
            now,
            {"refund_id": refund_id, "by": approver},
        )
        if stores.refunds.write(changed=[approved], entries=[entry]) is Written.WRITTEN:
            logger.info("refund approved", refund_id=refund_id, payment_id=current.payment_id)
            approved = replace(approved, version=(current.version or 0) + 1)
            return _execute(approved, config=config, now=now, stores=stores)
    raise DeskError(409, "busy", "The refund kept changing; read it again.")


def refund_from_queue(
    payment_id: str,
    *,
    staff_id: str,
    note: str | None,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    refunds: RefundRepository | None = None,
    notify: Notify | None = None,
    credit_paid: CreditPaid | None = None,
) -> tuple[RefundRecord, PaymentRecord]:
    """The staff queue's ``refund``: refund what of the payment became credit; the payment leaves
    the queue with the refund's request (above the approval amount, an admin still approves it)."""
    stores = _stores(store, refunds, notify, credit_paid)
    record = stores.accounts.snapshot(payment_id=payment_id).payment
    if record is None:
        raise DeskError(404, "not_found", "No payment with this id.")
    existing = stores.refunds.get(queue_refund_id(payment_id))
    if existing is not None:
        # The same resolution again (a retry): that refund, sent if it was not yet.
        refund = _execute(existing, config=config, now=now, stores=stores)
        after = stores.accounts.snapshot(payment_id=payment_id).payment
        assert after is not None
        return refund, after
    amount = min(record.credit_minor, record.refundable_minor)
    if record.review_state == REVIEW_OPEN and record.status == ALLOCATED and amount <= 0:
        raise DeskError(
            409, "nothing_to_refund", "This payment left no credit; refund part of it with the refunds route."
        )
    started = _open(
        payment_id,
        queue_refund_id(payment_id),
        amount=amount,
        reason=note or "staff queue: refund the credit",
        requested_by=staff_id,
        config=config,
        now=now,
        stores=stores,
        needs_approval=True,
        from_queue=note or "refund",
    )
    assert started is not None
    refund = _execute(started.refund, config=config, now=now, stores=stores)
    after = stores.accounts.snapshot(payment_id=payment_id).payment
    assert after is not None
    return refund, after


# --- money for settled bills, refunded (RELIABILITY 31) ------------------------------------------


def refunds_surplus(config: PropertyConfig, record: PaymentRecord | None) -> bool:
    """Whether ``record`` is an online payment for bills settled meanwhile that this property
    refunds at once (``payment.surplus: refund``) instead of keeping it as credit."""
    return (
        record is not None
        and config.payment.surplus == "refund"
        and record.review_reason == DUPLICATE
        and record.provider == STRIPE
    )


def refund_surplus(
    record: PaymentRecord,
    *,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    refunds: RefundRepository | None = None,
    notify: Notify | None = None,
) -> RefundRecord | None:
    """Refund in full a payment that landed as a duplicate, through its provider (safe to repeat:
    the refund id comes from the payment's). The staff queue keeps it until the refund is posted."""
    stores = _stores(store, refunds, notify, None)
    started = _open(
        record.payment_id,
        surplus_refund_id(record.payment_id),
        amount=None,
        reason="the bills it was for were paid already",
        requested_by=SURPLUS,
        config=config,
        now=now,
        stores=stores,
        needs_approval=False,
    )
    if started is None:
        return None
    return _execute(started.refund, config=config, now=now, stores=stores)


# --- Stripe's events -----------------------------------------------------------------------------

Outcome = Literal["refunded", "dispute", "payment_failed", "already_recorded", "ignored"]


class NotRecordedYet(Exception):
    """An event about a payment of this property that has not landed yet (its refund arrived
    before its completion): the webhook answers 409 and Stripe delivers it again later."""


def _in_flight(stores: Stores) -> Callable[[PaymentRecord, int], Sequence[RefundRecord]]:
    def settles(record: PaymentRecord, amount: int) -> Sequence[RefundRecord]:
        """The refunds on their way that ``amount`` confirms: oldest first, while they fit."""
        found = stores.refunds.get_many(refund_id for refund_id, _ in record.pending_refunds)
        settled, left = [], amount
        for refund_id, held in record.pending_refunds:
            refund = found.get(refund_id)
            if refund is not None and refund.status in IN_FLIGHT and held <= left:
                settled.append(refund)
                left -= held
        return settled

    return settles


def record_provider_refund(
    event: ChargeRefunded,
    *,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    refunds: RefundRepository | None = None,
    notify: Notify | None = None,
    credit_paid: CreditPaid | None = None,
) -> Outcome:
    """``charge.refunded``: post what Stripe refunded beyond what is posted (its amount is the
    charge's running total), settle the refunds it confirms, tell the owner."""
    stores = _stores(store, refunds, notify, credit_paid)
    record = stores.accounts.snapshot(payment_id=event.payment_id).payment
    if record is None and event.ours:
        raise NotRecordedYet(event.payment_id)
    if record is None or record.currency != event.currency:
        logger.info("refund of a payment this property does not have", payment_id=event.payment_id)
        return "ignored"

    def amount(current: PaymentRecord) -> int:
        at_provider = current.refunded_minor - current.disputed_minor
        return min(event.amount_refunded_minor - at_provider, current.amount_minor - current.refunded_minor)

    done = _post_reversal(
        event.payment_id,
        amount=amount,
        key=f"stripe_refund_{event.amount_refunded_minor}",
        kind="refund",
        settles=_in_flight(stores),
        config=config,
        now=now,
        stores=stores,
    )
    return "refunded" if done is not None else "already_recorded"


def record_dispute(
    event: DisputeOpened,
    *,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    refunds: RefundRepository | None = None,
    notify: Notify | None = None,
    credit_paid: CreditPaid | None = None,
) -> Outcome:
    """``charge.dispute.created``: the bank took the money back. Reverse it (the bills open again),
    put the payment in the staff queue to answer the dispute, tell the owner."""
    stores = _stores(store, refunds, notify, credit_paid)
    record = stores.accounts.snapshot(payment_id=event.payment_id).payment
    if record is None or record.currency != event.currency:
        logger.info("dispute of a payment this property does not have", payment_id=event.payment_id)
        return "ignored"
    if record.disputed_minor or (
        record.review_reason == DISPUTE and record.refunded_minor == record.amount_minor
    ):
        return "already_recorded"  # a charge is disputed once
    done = _post_reversal(
        event.payment_id,
        amount=lambda current: (
            0
            if current.disputed_minor
            else min(event.amount_minor, current.amount_minor - current.refunded_minor)
        ),
        key=event.dispute_id,
        kind="dispute",
        settles=lambda current, _: [],
        config=config,
        now=now,
        stores=stores,
    )
    if done is None:
        # Nothing left to take back (refunded in full before): staff still answer the dispute.
        _queue_for_dispute(event.payment_id, stores=stores)
    logger.warning(
        "payment disputed: in the staff queue",
        payment_id=event.payment_id,
        dispute_id=event.dispute_id,
        amount_minor=event.amount_minor,
        dispute_reason=event.reason,
    )
    return "dispute"


def _queue_for_dispute(payment_id: str, *, stores: Stores) -> None:
    for _ in range(MAX_ATTEMPTS):
        record = stores.accounts.snapshot(payment_id=payment_id).payment
        if record is None or (record.review_state == REVIEW_OPEN and record.review_reason == DISPUTE):
            return
        queued = replace(record, review_state=REVIEW_OPEN, review_reason=DISPUTE)
        if stores.refunds.write(payment=queued) is Written.WRITTEN:
            return


def checkout_failed(
    event: CheckoutFailed,
    *,
    config: PropertyConfig,
    now: datetime,
    store: AccountStore | None = None,
    notify: Notify | None = None,
    pay_url: Callable[[Bill], str] | None = None,
) -> Outcome:
    """``checkout.session.async_payment_failed``: a delayed payment (a bank debit) did not go
    through. Nothing is posted; the owner is told, with the link to pay again."""
    store = store or AccountStore()
    notify = notify or QueueProducer(MESSAGES_QUEUE).send
    snapshot = store.snapshot(payment_id=event.payment_id, bill_ids=event.bill_ids)
    if snapshot.payment is not None:
        # The payment landed (reported by another event): nothing failed for this property.
        logger.warning("failure reported for a payment that landed", payment_id=event.payment_id)
        return "already_recorded"
    bills = [snapshot.bills[b] for b in event.bill_ids if b in snapshot.bills]
    if not bills:
        return "ignored"
    open_bills = [bill for bill in bills if bill.is_open]
    link = pay_url or partial(pay_links().url, now=now)
    notify(
        [
            MessageRequest(
                message_id=f"payment_failed#{event.session_id}",
                template="payment_failed",
                owner_id=bills[0].owner_id,
                channels=("email", "sms"),
                context={
                    "unit_id": bills[0].unit_id,
                    "amount_minor": event.amount_minor,
                    "currency": event.currency,
                    "bills": [{"bill_id": b.bill_id, "period": b.period} for b in bills],
                    **({"pay_url": link(open_bills[0])} if open_bills else {}),
                },
            )
        ]
    )
    logger.info("delayed payment failed: owner told", session_id=event.session_id, unit_id=bills[0].unit_id)
    return "payment_failed"


def process_reversal_event(
    event: ChargeRefunded | DisputeOpened | CheckoutFailed, *, config: PropertyConfig, now: datetime
) -> dict[str, Any]:
    """Act on one of Stripe's events about money going back; what the webhook answers."""
    if isinstance(event, ChargeRefunded):
        outcome = record_provider_refund(event, config=config, now=now)
    elif isinstance(event, DisputeOpened):
        outcome = record_dispute(event, config=config, now=now)
    else:
        outcome = checkout_failed(event, config=config, now=now)
    return {"received": True, "outcome": outcome}
