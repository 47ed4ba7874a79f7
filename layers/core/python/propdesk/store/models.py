"""pynamodb models: the one definition of every table's keys and indexes.

The CDK stack builds its tables from ``TABLES`` (keys, attribute types, indexes, TTL), the
local runtime creates them from the same models, and the repositories in ``store/`` are the
only code that reads or writes them. A model instance never leaves ``store/``.

Each model names its table by key (``Meta.table_key``); the table's name comes from the
function's settings (``Settings.table``, from ``propdesk.naming.table_env``), read when the
table is used. A function whose spec does not declare a table has no such setting, and using the
table fails with ``ConfigurationMissing``, locally as in AWS (where its role could not reach
the table anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from propdesk import naming
from propdesk.settings import get_settings


class _Meta:
    billing_mode = "PAY_PER_REQUEST"
    table_key: str
    table_name: str | None = None


class _Table(Model):
    """A model whose table name comes from the environment when the table is first used."""

    @classmethod
    def _get_connection(cls):  # type: ignore[no-untyped-def]
        # ConfigurationMissing when the function did not declare the table.
        cls.Meta.table_name = get_settings().table(cls.Meta.table_key)  # type: ignore[attr-defined]
        return super()._get_connection()  # pynamodb makes a new connection when the name changes


class ContactMarkAttribute(MapAttribute):
    """Why an address or number no longer takes our messages (a permanent bounce, a complaint,
    a failed SMS delivery) and when the provider said so."""

    reason = UnicodeAttribute()  # bounced | complained | sms_failed
    detail = UnicodeAttribute(null=True)  # the provider's bounce type / delivery response
    at = UTCDateTimeAttribute()


class OwnerUnreachableIndex(GlobalSecondaryIndex):
    """Owners with a marked channel, for staff's list (no Scan). Sparse: ``unreachable`` is set
    only while the e-mail address or the phone number is marked."""

    class Meta:
        index_name = "unreachable-index"
        projection = KeysOnlyProjection()

    unreachable = UnicodeAttribute(hash_key=True)  # "marked"
    owner_id = UnicodeAttribute(range_key=True)


class OwnerItem(_Table):
    """An owner (业主). Contact details are personal data: never logged."""

    class Meta(_Meta):
        table_key = "owners"

    owner_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)  # E.164
    email = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(default="zh-CN")
    sms_consent = BooleanAttribute(default=True)
    updated_at = UTCDateTimeAttribute()
    email_mark = ContactMarkAttribute(null=True)  # the address is not used while marked
    phone_mark = ContactMarkAttribute(null=True)  # the number is not used while marked
    unreachable = UnicodeAttribute(null=True)  # "marked" while either is (unreachable-index)

    unreachable_index = OwnerUnreachableIndex()


class UnitOwnerIndex(GlobalSecondaryIndex):
    """Unit ids by owner: staff's list of unreachable owners names their units. Keys only."""

    class Meta:
        index_name = "owner-index"
        projection = KeysOnlyProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    unit_id = UnicodeAttribute(range_key=True)


class UnitBuildingIndex(GlobalSecondaryIndex):
    """Unit ids by building: the notice planner pages through each building's units with a
    Query (never a Scan). Keys only: the planner queues ids; the worker reads the units."""

    class Meta:
        index_name = "building-index"
        projection = KeysOnlyProjection()

    building = UnicodeAttribute(hash_key=True)
    unit_id = UnicodeAttribute(range_key=True)


class UnitItem(_Table):
    """A unit (房屋) and its current owner."""

    class Meta(_Meta):
        table_key = "units"

    unit_id = UnicodeAttribute(hash_key=True)  # e.g. "A-1203"
    building = UnicodeAttribute()
    building_index = UnitBuildingIndex()
    owner_index = UnitOwnerIndex()
    floor = NumberAttribute()
    number = UnicodeAttribute()
    area_centi_m2 = NumberAttribute()  # floor area in 1/100 m², integer
    owner_id = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()


class BillLineAttribute(MapAttribute):
    code = UnicodeAttribute()
    basis = UnicodeAttribute()
    rate_minor = NumberAttribute()
    quantity = NumberAttribute()  # centi-m² for per_m2, 1 for per_unit
    amount_minor = NumberAttribute()


class BillStatusIndex(GlobalSecondaryIndex):
    """Open bills by due date: the dunning run queries this, never scans."""

    class Meta:
        index_name = "status-due-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    status = UnicodeAttribute(hash_key=True)
    due_date = UnicodeAttribute(range_key=True)


class BillPeriodIndex(GlobalSecondaryIndex):
    """Every bill of a period: staff lists and collection summaries."""

    class Meta:
        index_name = "period-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    period = UnicodeAttribute(hash_key=True)
    bill_id = UnicodeAttribute(range_key=True)


class BillItem(_Table):
    """One bill per unit and period; ``bill_id`` is ``"<unit_id>#<YYYY-MM>"`` so a rerun creates nothing twice."""

    class Meta(_Meta):
        table_key = "bills"

    bill_id = UnicodeAttribute(hash_key=True)
    unit_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    period = UnicodeAttribute()
    fee_standard_version = UnicodeAttribute()
    lines = ListAttribute(of=BillLineAttribute)
    total_minor = NumberAttribute()
    currency = UnicodeAttribute()
    due_date = UnicodeAttribute()  # local date, YYYY-MM-DD
    status = UnicodeAttribute()  # open | paid
    issued_at = UTCDateTimeAttribute()
    paid_minor = NumberAttribute(default=0)
    paid_at = UTCDateTimeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    receipt_no = UnicodeAttribute(null=True)
    version = VersionAttribute()

    status_index = BillStatusIndex()
    period_index = BillPeriodIndex()


class AllocationAttribute(MapAttribute):
    """Part of a payment applied to one bill."""

    bill_id = UnicodeAttribute()
    principal_minor = NumberAttribute()
    late_fee_minor = NumberAttribute(default=0)


class PaymentReviewIndex(GlobalSecondaryIndex):
    """Payments staff must look at (set aside, or money for bills already settled): the queue.
    Sparse: a payment leaves the index when staff resolve it (``review_state`` removed)."""

    class Meta:
        index_name = "review-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    review_state = UnicodeAttribute(hash_key=True)  # "open"
    received_at = UTCDateTimeAttribute(range_key=True)


class PaymentUnitIndex(GlobalSecondaryIndex):
    """Every payment of a unit by when it was paid: an account's full history for staff."""

    class Meta:
        index_name = "unit-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    unit_id = UnicodeAttribute(hash_key=True)
    paid_at = UTCDateTimeAttribute(range_key=True)


class PaymentDeskIndex(GlobalSecondaryIndex):
    """Payments a member of staff recorded, by when: a cashier's daily cash-up (日结). Sparse:
    only desk and home-visit payments have ``recorded_by``."""

    class Meta:
        index_name = "desk-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    recorded_by = UnicodeAttribute(hash_key=True)
    received_at = UTCDateTimeAttribute(range_key=True)


class PaymentInvoiceIndex(GlobalSecondaryIndex):
    """Payments whose owner asked for an official tax invoice (发票), by state: staff's list of
    invoices to issue. Sparse: only payments with ``invoice_state``."""

    class Meta:
        index_name = "invoice-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    invoice_state = UnicodeAttribute(hash_key=True)  # requested | issued
    received_at = UTCDateTimeAttribute(range_key=True)


class PaymentRailDayIndex(GlobalSecondaryIndex):
    """Online payments by rail and the provider's statement day (``wechat_pay#2026-12-01``): our
    side of each morning's reconciliation. Sparse: only payments through a provider's rail."""

    class Meta:
        index_name = "rail-day-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    rail_day = UnicodeAttribute(hash_key=True)
    paid_at = UTCDateTimeAttribute(range_key=True)


class PaymentItem(_Table):
    """A payment, keyed on its provider and the provider's own id, so one payment counts once
    whatever the notifications do (``stripe:pi_…``, ``desk:…``, ``transfer:<bank serial>``)."""

    class Meta(_Meta):
        table_key = "payments"

    payment_id = UnicodeAttribute(hash_key=True)
    unit_id = UnicodeAttribute(null=True)  # None: no unit could be found (set aside for staff)
    provider = UnicodeAttribute()  # stripe | desk | ...
    method = UnicodeAttribute()  # card | wechat_pay | alipay | cash | bank_card | cheque | bank_transfer
    channel = UnicodeAttribute()  # online | front_desk | home_visit | bank
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # allocated | set_aside | refunded | voided
    targets = ListAttribute(of=UnicodeAttribute, default=list)  # bills it was made for ([] = any)
    allocations = ListAttribute(of=AllocationAttribute, default=list)
    credit_minor = NumberAttribute(default=0)  # what went to the account's credit
    receipt_no = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    reference = UnicodeAttribute(null=True)  # POS reference, cheque number and bank, transfer reference
    recorded_by = UnicodeAttribute(null=True)  # the staff user who recorded it (desk payments)
    received_at = UTCDateTimeAttribute()  # when PropDesk recorded it
    paid_at = UTCDateTimeAttribute()  # when the owner paid, by the provider's clock
    review_state = UnicodeAttribute(null=True)  # "open" while staff must look at it
    # duplicate | mismatch | unknown_bill | unknown_unit | currency | dispute
    review_reason = UnicodeAttribute(null=True)
    review_note = UnicodeAttribute(null=True)  # how staff resolved it
    refunded_minor = NumberAttribute(default=0)
    # A void (desk payments): asked for with a reason, approved by an admin who is neither the
    # one who asked nor the one who recorded the payment.
    void_reason = UnicodeAttribute(null=True)
    void_requested_by = UnicodeAttribute(null=True)
    voided_by = UnicodeAttribute(null=True)
    voided_at = UTCDateTimeAttribute(null=True)
    # Refunds asked for and not settled yet, oldest first, "<refund id> <amount>": they hold that
    # much of the payment, so two refunds never take back more than it brought.
    pending_refunds = ListAttribute(of=UnicodeAttribute, default=list)
    disputed_minor = NumberAttribute(default=0)  # the part of refunded_minor a dispute took back
    # An official tax invoice (发票) the owner asked for: the title and tax number to print on it.
    invoice_state = UnicodeAttribute(null=True)  # requested | issued
    invoice_title = UnicodeAttribute(null=True)
    invoice_tax_id = UnicodeAttribute(null=True)
    invoice_no = UnicodeAttribute(null=True)
    rail_day = UnicodeAttribute(null=True)  # <rail>#<the provider's statement day> (rail-day-index)
    version = VersionAttribute()

    review_index = PaymentReviewIndex()
    unit_index = PaymentUnitIndex()
    desk_index = PaymentDeskIndex()
    invoice_index = PaymentInvoiceIndex()
    rail_day_index = PaymentRailDayIndex()


class AccountItem(_Table):
    """A unit's account (户账): its credit, and the bills and payments the owner's page shows.

    Changed only in the transactions that post to it (a payment, a bill issued, a refund), under
    its version, so two postings never overwrite each other.
    """

    class Meta(_Meta):
        table_key = "accounts"

    unit_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute(null=True)
    currency = UnicodeAttribute()
    credit_minor = NumberAttribute(default=0)
    open_bill_ids = ListAttribute(of=UnicodeAttribute, default=list)  # owing something, oldest first
    payment_ids = ListAttribute(of=UnicodeAttribute, default=list)  # newest first, the latest few
    # Checkout sessions started from the owner's page and not yet paid, "<session id> <expiry
    # epoch>": the payment of one of them expires the others (no second charge from another tab).
    open_sessions = ListAttribute(of=UnicodeAttribute, default=list)
    # The charge entries (one per bill issued on the unit) ``open_bill_ids`` reflects: their
    # number and greatest key. Bills issued in batches are found from their charges on read.
    charges_seen = NumberAttribute(default=0)
    charges_through = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class CounterItem(_Table):
    """Gap-free sequences (receipt numbers), advanced only inside the transaction that uses them;
    and the leases on batches of bills being issued (``issuing#...``: ``store.issuing``, with
    ``value`` the lease's end in epoch seconds and ``holder`` its token)."""

    class Meta(_Meta):
        table_key = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


class MessageHeldIndex(GlobalSecondaryIndex):
    """Messages whose SMS waits for the end of quiet hours, by when: the release run's Query.
    Sparse: ``held`` is removed when the message is released."""

    class Meta:
        index_name = "held-index"
        projection = IncludeProjection(["request"])

    held = UnicodeAttribute(hash_key=True)  # "held"
    held_until = UTCDateTimeAttribute(range_key=True)


class MessageSmsIndex(GlobalSecondaryIndex):
    """A sent SMS by the provider's message id: its delivery status names only that id."""

    class Meta:
        index_name = "sms-index"
        projection = IncludeProjection(["owner_id"])

    sms_id = UnicodeAttribute(hash_key=True)


class MessageItem(_Table):
    """One outbound message per owner, template and subject: the send ledger and its dedup key."""

    class Meta(_Meta):
        table_key = "messages"

    message_id = UnicodeAttribute(hash_key=True)  # e.g. "bill_notice#A-1203#2026-12"
    template = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    status = UnicodeAttribute()  # queued | sending | sent | failed | undeliverable | dropped | held | capped
    channels = ListAttribute(of=UnicodeAttribute, default=list)  # channels actually used
    provider_ids = ListAttribute(of=UnicodeAttribute, default=list)
    attempts = NumberAttribute(default=0)
    note = UnicodeAttribute(null=True)  # e.g. why SMS was skipped
    created_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    # The send lease: while ``status`` is "sending" and ``lease_until`` lies ahead, one invocation
    # (``claimed_by``) owns the message; others leave it to the queue to redeliver.
    lease_until = UTCDateTimeAttribute(null=True)
    claimed_by = UnicodeAttribute(null=True)
    # Quiet hours: the request as queued (JSON) and when its SMS may go; ``held`` = "held" while
    # it waits (held-index). ``held_until`` stays after release: the message was admitted then.
    request = UnicodeAttribute(null=True)
    held_until = UTCDateTimeAttribute(null=True)
    held = UnicodeAttribute(null=True)
    sms_id = UnicodeAttribute(null=True)  # the SMS provider's id (sms-index)

    held_index = MessageHeldIndex()
    sms_index = MessageSmsIndex()


class LedgerItem(_Table):
    """Append-only record of every state change (F7). Items are only ever put, never updated."""

    class Meta(_Meta):
        table_key = "ledger"

    entity = UnicodeAttribute(hash_key=True)  # e.g. "bill#A-1203#2026-12"
    seq = UnicodeAttribute(range_key=True)  # stable event key, e.g. "issued", "paid#stripe:pi_1"
    event = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    data = MapAttribute(default=dict)


class TicketItem(_Table):
    """A customer-service request and its work order (S1-S3)."""

    class Meta(_Meta):
        table_key = "tickets"

    ticket_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # repair | consultation | complaint | suggestion
    category = UnicodeAttribute(null=True)  # e.g. "water", matched against departments' ``handles``
    unit_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute()  # hotline | app | front_desk
    summary = UnicodeAttribute()
    emergency = BooleanAttribute(default=False)
    status = UnicodeAttribute()  # received | dispatched | out_of_scope | done
    department = UnicodeAttribute(null=True)
    priority = UnicodeAttribute(null=True)
    due_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class RefundPaidOutIndex(GlobalSecondaryIndex):
    """Refunds a member of staff paid back in cash or at the POS, by when: the other side of a
    cashier's daily cash-up. Sparse: only desk refunds have ``paid_out_by``."""

    class Meta:
        index_name = "paid-out-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    paid_out_by = UnicodeAttribute(hash_key=True)
    paid_out_at = UTCDateTimeAttribute(range_key=True)


class RefundItem(_Table):
    """A refund (退款) of a payment, keyed on the request that asked for it (a retried request is
    the same refund). Above the configured amount it waits for an admin's approval; a Stripe
    refund is sent through Stripe's API and settled when ``charge.refunded`` arrives; a desk
    refund is paid out at the desk and settled at once."""

    class Meta(_Meta):
        table_key = "refunds"

    refund_id = UnicodeAttribute(hash_key=True)  # "rf_<request id>"
    payment_id = UnicodeAttribute()
    unit_id = UnicodeAttribute(null=True)
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    reason = UnicodeAttribute()
    requested_by = UnicodeAttribute()  # a staff user's id, or "system:<why>"
    approved_by = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # pending_approval | approved | sent | succeeded | failed
    provider_refund_id = UnicodeAttribute(null=True)  # Stripe's re_...
    failure = UnicodeAttribute(null=True)  # the provider's error code, when it refused
    paid_out_by = UnicodeAttribute(null=True)  # desk refunds: who paid the money back
    paid_out_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    paid_out_index = RefundPaidOutIndex()


class VisitDayIndex(GlobalSecondaryIndex):
    """A day's home visits, for the front desk's list."""

    class Meta:
        index_name = "day-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    day = UnicodeAttribute(hash_key=True)  # local date, YYYY-MM-DD
    visit_id = UnicodeAttribute(range_key=True)


class VisitItem(_Table):
    """A home collection visit (上门收费): a unit, a day and a slot. ``visit_id`` is
    ``<unit>_<day>_<slot start>``, so booking the same slot twice is one visit."""

    class Meta(_Meta):
        table_key = "visits"

    visit_id = UnicodeAttribute(hash_key=True)
    unit_id = UnicodeAttribute()
    day = UnicodeAttribute()
    slot = UnicodeAttribute()  # "09:00-11:00", local time
    status = UnicodeAttribute()  # booked | done | cancelled
    booked_by = UnicodeAttribute()  # "owner", or the staff user who booked it
    note = UnicodeAttribute(null=True)  # what the collector should know (floor, hearing, ...)
    payment_id = UnicodeAttribute(null=True)  # the payment taken at the door
    created_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    day_index = VisitDayIndex()


class OrderOpenIndex(GlobalSecondaryIndex):
    """Orders still open at their provider, oldest first: the active query's list (an order
    whose notification is late is queried; one past its expiry is closed). Sparse: ``open_rail``
    is removed when the order is paid or closed."""

    class Meta:
        index_name = "open-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    open_rail = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class OrderItem(_Table):
    """A payment order started at a QR-code or redirect rail (WeChat Pay, Alipay): our order
    number (out_trade_no), the unit and the bills it pays, the amount asked, and its state at the
    provider as we last learned it. A notification or a query is checked against it: an amount
    or currency that differs never moves money."""

    class Meta(_Meta):
        table_key = "orders"

    order_id = UnicodeAttribute(hash_key=True)
    rail = UnicodeAttribute()  # wechat_pay | alipay
    unit_id = UnicodeAttribute()
    owner_id = UnicodeAttribute(null=True)
    bill_ids = ListAttribute(of=UnicodeAttribute)  # type: ignore[var-annotated]
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    state = UnicodeAttribute()  # open | paid | closed
    device = UnicodeAttribute()  # desktop (QR code / page pay) | phone (H5 / WAP pay)
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    open_rail = UnicodeAttribute(null=True)  # = rail while open (open-index)
    provider_payment_id = UnicodeAttribute(null=True)  # transaction_id / trade_no once paid
    start_url = UnicodeAttribute(null=True)  # the QR code's text (code_url) or the provider's page
    queried_at = UTCDateTimeAttribute(null=True)
    version = VersionAttribute()

    open_index = OrderOpenIndex()


class StatementOpenIndex(GlobalSecondaryIndex):
    """Lines and items that wait for staff, oldest first, by kind (``bank`` for bank statement
    lines nobody has confirmed or set aside, ``recon`` for reconciliation differences). Sparse:
    ``open_kind`` is removed when staff have dealt with it."""

    class Meta:
        index_name = "open-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    open_kind = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class StatementItem(_Table):
    """Files from outside, line by line: a bank statement a cashier uploaded (``bank``), a
    direct-debit result file (``debit``), a day's reconciliation of a rail (``recon``). Line 0 is
    the file's header (who, when, its totals); line n is the file's n-th line or difference. The
    file's id is a hash of its content, so the same file imported again is the same item."""

    class Meta(_Meta):
        table_key = "statements"

    statement_id = UnicodeAttribute(hash_key=True)
    line = NumberAttribute(range_key=True)
    kind = UnicodeAttribute()  # bank | debit | recon
    state = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    data = UnicodeAttribute()  # the line's fields, JSON (amounts in minor units)
    payment_id = UnicodeAttribute(null=True)  # the payment it became, once confirmed
    open_kind = UnicodeAttribute(null=True)  # = kind while it waits for staff (open-index)
    version = VersionAttribute()

    open_index = StatementOpenIndex()


class MandateActiveIndex(GlobalSecondaryIndex):
    """Mandates in force, by kind (``debit``), by unit: the units whose bills the next deduction
    file collects. Sparse: ``active_kind`` is removed when the owner cancels."""

    class Meta:
        index_name = "active-index"
        projection = KeysOnlyProjection()  # read back by key: store.indexed

    active_kind = UnicodeAttribute(hash_key=True)
    unit_id = UnicodeAttribute(range_key=True)


class MandateItem(_Table):
    """An owner's standing authority to collect a unit's bills: bank direct debit (银行代扣), with
    the account number encrypted under the mandates key (bound to the unit) and only its masked
    form in the clear; or card autopay, a card saved at Stripe (only its brand and last four
    digits here)."""

    class Meta(_Meta):
        table_key = "mandates"

    unit_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(range_key=True)  # debit | card
    state = UnicodeAttribute()  # active | cancelled
    owner_id = UnicodeAttribute(null=True)
    bank = UnicodeAttribute()
    holder_masked = UnicodeAttribute()  # 张*伟
    account_masked = UnicodeAttribute()  # 6222 **** **** 1234
    ciphertext = UnicodeAttribute()  # base64 of KMS Encrypt({"holder", "account"}), context unit_id
    customer_id = UnicodeAttribute(null=True)  # card: the Stripe customer (cus_)
    payment_method_id = UnicodeAttribute(null=True)  # card: the saved card (pm_)
    created_at = UTCDateTimeAttribute()
    cancelled_at = UTCDateTimeAttribute(null=True)
    active_kind = UnicodeAttribute(null=True)  # = kind while active (active-index)
    version = VersionAttribute()

    active_index = MandateActiveIndex()


class CycleItem(_Table):
    """A billing cycle (F2) a manager reviews before it goes out: its header (``part`` "header":
    state, who prepared and approved it, how many batches the draft is computed in and which are
    done) and one tally per batch (``part`` "batch#00001": the batch's totals per building and
    its exceptions). The header changes only under a condition on its state, so a cycle is
    approved or voided once; a batch's tally is a put of what it computed, so a rerun writes the
    same thing again."""

    class Meta(_Meta):
        table_key = "cycles"

    period = UnicodeAttribute(hash_key=True)  # YYYY-MM
    part = UnicodeAttribute(range_key=True)  # header | batch#<n>
    state = UnicodeAttribute(null=True)  # header: preparing | draft | approved | voided
    data = UnicodeAttribute()  # JSON: the header's facts, or the batch's tally
    batches_done = NumberSetAttribute(null=True)  # header: the batches tallied (ADD, idempotent)
    updated_at = UTCDateTimeAttribute()


class StandardItem(_Table):
    """A version of the property's fee standard (收费标准, F1): a draft, then published, and then
    never changed. Every version is in one partition (``kind``), so the versions in force are
    one Query."""

    class Meta(_Meta):
        table_key = "standards"

    kind = UnicodeAttribute(hash_key=True)  # "fee"
    version = UnicodeAttribute(range_key=True)  # e.g. "SH-2027-01"
    status = UnicodeAttribute()  # draft | published
    effective_from = UnicodeAttribute()  # ISO date
    body = UnicodeAttribute()  # the version (legal basis, items, cost breakdown, publication), JSON
    updated_at = UTCDateTimeAttribute()
    row_version = VersionAttribute()


class IdempotencyItem(_Table):
    """The Powertools idempotency table (webhook event ids), expired by TTL."""

    class Meta(_Meta):
        table_key = "idempotency"

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)


class LinkItem(_Table):
    """Short links of SMS notices, and the count of wrong codes per client address, both expired
    by TTL. ``key`` is ``code#<code>`` (the signed pay token it leads to, expiring with the token)
    or ``miss#<client ip>#<minute>`` (an atomic counter for that minute)."""

    class Meta(_Meta):
        table_key = "links"

    key = UnicodeAttribute(hash_key=True)
    token = UnicodeAttribute(null=True)
    misses = NumberAttribute(null=True)
    expires = TTLAttribute()


@dataclass(frozen=True)
class TableDef:
    """A table: its key (in names and specs), its model, and its TTL attribute if any."""

    key: str
    model: type[Model]
    ttl_attribute: str | None = None

    @property
    def env_var(self) -> str:
        return naming.table_env(self.key)


TABLES: tuple[TableDef, ...] = (
    TableDef("owners", OwnerItem),
    TableDef("units", UnitItem),
    TableDef("bills", BillItem),
    TableDef("payments", PaymentItem),
    TableDef("accounts", AccountItem),
    TableDef("counters", CounterItem),
    TableDef("messages", MessageItem),
    TableDef("ledger", LedgerItem),
    TableDef("tickets", TicketItem),
    TableDef("idempotency", IdempotencyItem, ttl_attribute="expiration"),
    TableDef("refunds", RefundItem),
    TableDef("visits", VisitItem),
    TableDef("orders", OrderItem),
    TableDef("statements", StatementItem),
    TableDef("mandates", MandateItem),
    TableDef("cycles", CycleItem),
    TableDef("links", LinkItem, ttl_attribute="expires"),
    TableDef("standards", StandardItem),
)


def table_def(key: str) -> TableDef:
    for table in TABLES:
        if table.key == key:
            return table
    raise KeyError(key)
