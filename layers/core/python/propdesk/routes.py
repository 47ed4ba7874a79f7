"""The route table: every HTTP route of the property's API, declared once.

Each route names its method and path (API Gateway syntax, ``/staff/bills/{bill_id}``), the
function that serves it, who may call it, a summary for the API document and the largest
body it takes. Everything else reads this table: the manifest (which function has which
routes), the CDK stack (API Gateway routes, and the JWT authorizer on staff routes), the local
gateway, the one authorization step in the functions (``propdesk.web.access``), the OpenAPI
document, and the authorization matrix test.

Who may call a route (its audience):
- ``Public()``: anyone;
- ``OwnerLink()``: whoever holds a signed, unexpired pay link (``{token}`` in the path);
- ``ProviderSignature("stripe")``: a payment provider, proven by its signature on the body;
- ``Staff(roles)``: a signed-in staff user (Cognito JWT) in one of ``roles``.

Pure data: no AWS, no Powertools, so the stack can import it cheaply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from propdesk.payments.events import StripeEventEnvelope

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

# Cognito groups. Department groups are added per property: "dept-<code>".
ROLE_ADMIN = "admin"
ROLE_CASHIER = "cashier"
ROLE_AGENT = "agent"
BASE_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_CASHIER, ROLE_AGENT)
DEPARTMENT_ROLE_PREFIX = "dept-"
STAFF_READERS = (ROLE_ADMIN, ROLE_CASHIER, ROLE_AGENT)


def department_role(code: str) -> str:
    return f"{DEPARTMENT_ROLE_PREFIX}{code}"


def staff_roles(department_codes: Iterable[str]) -> tuple[str, ...]:
    """Every role a property has: the base roles and one per department."""
    return BASE_ROLES + tuple(department_role(code) for code in department_codes)


@dataclass(frozen=True)
class Public:
    kind: Literal["public"] = "public"


@dataclass(frozen=True)
class OwnerLink:
    kind: Literal["owner_link"] = "owner_link"


@dataclass(frozen=True)
class ProviderSignature:
    provider: str
    kind: Literal["provider_signature"] = "provider_signature"


@dataclass(frozen=True)
class Staff:
    roles: tuple[str, ...]
    kind: Literal["staff"] = "staff"

    def __post_init__(self) -> None:
        if not self.roles:
            raise ValueError("a staff route must name the roles that may call it")
        unknown = [r for r in self.roles if r not in BASE_ROLES and not r.startswith(DEPARTMENT_ROLE_PREFIX)]
        if unknown:
            raise ValueError(f"unknown staff roles: {', '.join(unknown)}")


Audience = Public | OwnerLink | ProviderSignature | Staff
AUDIENCE_KINDS = ("public", "owner_link", "provider_signature", "staff")

KIB = 1024
DEFAULT_MAX_BODY = 16 * KIB


@dataclass(frozen=True)
class RequestBody:
    """A request body the functions read themselves (not JSON the resolver validates): how the
    OpenAPI document shows it."""

    media_type: str
    description: str
    example: str
    # Media types the route reads (the first is the documented one); any other is refused (415).
    also_accepts: tuple[str, ...] = ()
    # JSON Schema; nested definitions under "$defs", referred to as #/components/schemas/<name>.
    schema: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({"type": "string"}))

    @property
    def accepts(self) -> tuple[str, ...]:
        return (self.media_type, *self.also_accepts)


@dataclass(frozen=True)
class Route:
    key: str  # unique; the operation id in the OpenAPI document
    method: Method
    path: str  # API Gateway syntax: /pay/{token}
    function: str  # the manifest function that serves it
    audience: Audience
    summary: str
    tag: str
    description: str = ""
    max_body_bytes: int = DEFAULT_MAX_BODY
    body: RequestBody | None = None
    # Answers particular to this route, beyond those of its audience and of validation.
    responses: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.audience, Public | OwnerLink | ProviderSignature | Staff):
            raise TypeError(f"route {self.key!r}: declare who may call it (Public, OwnerLink, ...)")
        if not self.path.startswith("/") or not re.fullmatch(r"[a-z0-9/_{}-]+", self.path, re.I):
            raise ValueError(f"route {self.key!r}: bad path {self.path!r}")

    @property
    def route_key(self) -> str:
        """API Gateway's route key, as it appears in the event: ``"GET /staff/bills"``."""
        return f"{self.method} {self.path}"

    @property
    def rule(self) -> str:
        """The path in the Powertools resolver's syntax: ``/pay/<token>``."""
        return re.sub(r"\{([^}+]+)\}", r"<\1>", self.path)

    @property
    def who(self) -> str:
        """Who may call the route, in words (the API document shows it with each operation)."""
        audience = self.audience
        if isinstance(audience, Staff):
            return f"staff signed in with one of the roles {', '.join(audience.roles)}"
        if isinstance(audience, OwnerLink):
            return "the owner, with the signed, unexpired link of a notice"
        if isinstance(audience, ProviderSignature):
            return f"{audience.provider}, with its signature over the body"
        return "anyone"

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{([^}+]+)\}", self.path))


_CSV_EXAMPLE = (
    "unit_id,building,floor,number,area_m2,owner_id,owner_name,phone,email,locale,sms_consent\n"
    "A-1203,A,12,1203,89.37,O0001,张伟,+8613800138000,zhang.wei@example.com,zh-CN,yes\n"
    "C-0201,C,2,0201,64.50,O0002,Li Na,,li.na@example.com,en,no\n"
)
_WECHATPAY_NOTIFICATION_EXAMPLE = json.dumps(
    {
        "id": "EV-2018022511223320873",
        "create_time": "2026-12-17T10:01:02+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": "...",
            "associated_data": "transaction",
            "nonce": "fdasflkja484w",
        },
    },
    ensure_ascii=False,
)
_DEBIT_RESULTS_EXAMPLE = (
    "备注,金额,结果,原因\nDD202701-0001,327.27,成功,\nDD202701-0002,412.10,失败,余额不足\n"
)
_BANK_CSV_EXAMPLE = (
    "date,amount,payer,memo,reference\n"
    "2026-12-18,327.27,张伟,A-1203 物业费 2027-01,CMB20261218000123\n"
    "2026-12-18,500.00,Li Na,C0201 fees,CMB20261218000124\n"
)
_ALIPAY_NOTIFICATION_EXAMPLE = (
    "notify_time=2026-12-17+10%3A01%3A02&notify_type=trade_status_sync&notify_id=2026121700222100102"
    "&app_id=2021000000000001&charset=utf-8&version=1.0&sign_type=RSA2&sign=...&trade_no=2026121722001"
    "&out_trade_no=PD261217020000ABCDEF0123&trade_status=TRADE_SUCCESS&total_amount=349.38"
    "&gmt_payment=2026-12-17+10%3A01%3A01"
)
_STRIPE_EVENT_EXAMPLE = (
    '{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1767225600,'
    '"livemode":false,"data":{"object":{"id":"cs_test_1","object":"checkout.session",'
    '"payment_status":"paid","payment_intent":"pi_1","amount_total":37727,"currency":"cny",'
    '"client_reference_id":"A-1203#2027-01","metadata":{"property_id":"demo","bill_id":"A-1203#2027-01"}}}}'
)

ROUTES: tuple[Route, ...] = (
    # Owner pages (HTML), opened from the link in a notice.
    Route(
        key="bill_page",
        method="GET",
        path="/pay/{token}",
        function="api",
        audience=OwnerLink(),
        summary="The owner's account",
        description="What the unit owes with one Pay button for all of it, each open bill (itemised, "
        "with its own Pay button), the credit, and the payments with their receipts. A settled account "
        "says so and offers no way to pay.",
        tag="Owner pages",
    ),
    Route(
        key="start_checkout",
        method="POST",
        path="/pay/{token}/checkout",
        function="api",
        audience=OwnerLink(),
        summary="Start paying",
        description="Creates a fresh Stripe Checkout Session for all open bills, or the one named, and "
        "redirects to it (303); with nothing owed, back to the account page, which says so.",
        tag="Owner pages",
        responses=MappingProxyType(
            {303: "To Stripe Checkout, or back to the account page", 503: "Payment provider unavailable"}
        ),
    ),
    Route(
        key="start_order",
        method="POST",
        path="/pay/{token}/orders",
        function="api",
        audience=OwnerLink(),
        summary="Start paying through WeChat Pay or Alipay",
        description="Writes an order for all open bills, or the one named, then starts it at the rail "
        "chosen: on a desktop browser the order page shows WeChat Pay's QR code (303 to it); on a phone "
        "the owner goes to the provider's page (303 to it). With nothing owed, back to the account page.",
        tag="Owner pages",
        responses=MappingProxyType(
            {
                303: "To the order page, the provider's page, or back to the account page",
                503: "Provider unavailable",
            }
        ),
    ),
    Route(
        key="order_page",
        method="GET",
        path="/pay/{token}/orders/{order_id}",
        function="api",
        audience=OwnerLink(),
        summary="An order: its QR code, or whether it is paid",
        description="While the order is open: its QR code and amount; opening it asks the provider, so "
        "a payment whose notification is late shows at once. Paid: the receipt number. Closed: a way to "
        "start again. An order of another unit is the not-found page.",
        tag="Owner pages",
    ),
    Route(
        key="owner_debit_enrol",
        method="POST",
        path="/pay/{token}/debit",
        function="api",
        audience=OwnerLink(),
        summary="Enrol in bank direct debit",
        description="The owner's bank, the account holder's name and the account number, with their "
        "consent. The name and number are stored encrypted (KMS) and shown only masked; each cycle's "
        "bills are then collected through the bank's deduction file. Back to the account page, which "
        "says whether it worked.",
        tag="Owner pages",
        responses=MappingProxyType({303: "Back to the account page"}),
    ),
    Route(
        key="owner_debit_cancel",
        method="POST",
        path="/pay/{token}/debit/cancel",
        function="api",
        audience=OwnerLink(),
        summary="Cancel bank direct debit",
        description="From the next deduction file on, the unit's bills are not collected by debit.",
        tag="Owner pages",
        responses=MappingProxyType({303: "Back to the account page"}),
    ),
    Route(
        key="owner_autopay_start",
        method="POST",
        path="/pay/{token}/autopay",
        function="api",
        audience=OwnerLink(),
        summary="Set up card autopay",
        description="To Stripe's page (Checkout in setup mode), where the owner saves a card; each bill is "
        "then charged to it on its due date, after a notice a few days before. Back to the account page.",
        tag="Owner pages",
        responses=MappingProxyType({303: "To Stripe's page", 503: "Stripe unavailable"}),
    ),
    Route(
        key="owner_autopay_cancel",
        method="POST",
        path="/pay/{token}/autopay/cancel",
        function="api",
        audience=OwnerLink(),
        summary="Stop card autopay",
        description="No more charges; the saved card is removed at Stripe.",
        tag="Owner pages",
        responses=MappingProxyType({303: "Back to the account page"}),
    ),
    Route(
        key="owner_receipt",
        method="GET",
        path="/pay/{token}/payments/{payment_id}/receipt",
        function="api",
        audience=OwnerLink(),
        summary="A receipt (PDF)",
        description="Redirects (303) to a link, valid a few minutes, to the payment's receipt PDF in the "
        "page's language; a voided or refunded receipt keeps its number and shows its state.",
        tag="Owner pages",
        responses=MappingProxyType({303: "To the receipt PDF"}),
    ),
    Route(
        key="owner_bill_notice",
        method="GET",
        path="/pay/{token}/bills/{bill_id}/notice",
        function="api",
        audience=OwnerLink(),
        summary="A bill's printable notice (PDF)",
        description="Redirects (303) to a link, valid a few minutes, to the bill's A4 notice (缴费通知书) in "
        "the page's language: the property, the unit, the period, the itemised lines, the total, the "
        "credit applied, what is due and by when, the ways to pay and the fee standard's version. Made "
        "and stored on first asking. A bill of another unit is the not-found page.",
        tag="Owner pages",
        responses=MappingProxyType({303: "To the notice PDF"}),
    ),
    Route(
        key="owner_book_visit",
        method="POST",
        path="/pay/{token}/visits",
        function="api",
        audience=OwnerLink(),
        summary="Book a home collection visit",
        description="For owners who cannot come to the front desk: a day (1 to days_ahead days ahead) and a "
        "slot of the property's; back to the account page, which shows the visit (303). The same slot "
        "again is the same visit.",
        tag="Owner pages",
        max_body_bytes=2 * KIB,
        responses=MappingProxyType({303: "Back to the account page, which says whether it was booked"}),
    ),
    Route(
        key="owner_invoice",
        method="POST",
        path="/pay/{token}/payments/{payment_id}/invoice",
        function="api",
        audience=OwnerLink(),
        summary="Ask for a tax invoice (发票)",
        description="For a payment of the account: the title (a name or a company) and, for a company, its "
        "tax number. Back to the account page (303), which says whether it was taken.",
        tag="Owner pages",
        max_body_bytes=2 * KIB,
        responses=MappingProxyType({303: "Back to the account page"}),
    ),
    Route(
        key="checkout_return",
        method="GET",
        path="/pay/{token}/return",
        function="api",
        audience=OwnerLink(),
        summary="Back from Checkout",
        description="Thanks the owner and shows whether the payment is confirmed yet.",
        tag="Owner pages",
    ),
    Route(
        key="renew_link",
        method="POST",
        path="/pay/renew",
        function="api",
        audience=Public(),
        summary="Ask for a fresh link",
        description="From the 'link not valid' page: a unit number and the phone or e-mail on file. When "
        "they match, a new link to the unit's account is sent to that contact (at most once an hour); "
        "the answer is the same page either way, so it says nothing about units or contacts.",
        tag="Owner pages",
        max_body_bytes=2 * KIB,
    ),
    Route(
        key="short_link",
        method="GET",
        path="/p/{code}",
        function="api",
        audience=Public(),
        summary="A short link from an SMS",
        description="Redirects (303) to the pay link it stands for. A wrong or expired code is answered as an "
        "expired pay link is (the not-found page); after 10 wrong codes in a minute from one address, "
        "429 with Retry-After until the minute is over.",
        tag="Owner pages",
        responses=MappingProxyType(
            {303: "To the owner's pay page", 404: "Wrong or expired code", 429: "Too many wrong codes"}
        ),
    ),
    # Staff API (JSON).
    Route(
        key="list_bills",
        method="GET",
        path="/staff/bills",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Bills, filtered",
        description="The bills of a period, or without a period every open bill (the arrears), "
        "narrowed by status, building and days overdue; in natural unit order (A-101 before A-1001), "
        "each with its owner's name and what it still owes.",
        tag="Bills",
    ),
    Route(
        key="get_unit_bill",
        method="GET",
        path="/staff/units/{unit_id}/bills/{period}",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="One bill",
        description="The unit's bill of the period, with its lines and what has been paid.",
        tag="Bills",
        responses=MappingProxyType({404: "No bill for this unit and period"}),
    ),
    Route(
        key="find_accounts",
        method="GET",
        path="/staff/accounts",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Find a unit's account",
        description="By unit number (exact), owner's name (part of it) or phone number (any usual "
        "writing); natural unit order, at most 20.",
        tag="Accounts",
    ),
    Route(
        key="unit_account",
        method="GET",
        path="/staff/units/{unit_id}/account",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="A unit's account",
        description="Open bills, credit, what is owed, and the latest payments with their receipts.",
        tag="Accounts",
        responses=MappingProxyType({404: "No such unit"}),
    ),
    Route(
        key="record_desk_payment",
        method="POST",
        path="/staff/units/{unit_id}/payments",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Record a payment taken at the desk or at the door",
        description="Cash, bank card (POS reference), cheque (number and bank) or bank transfer "
        "(reference). The unit's open bills are paid oldest first, the rest kept as credit; the "
        "receipt is numbered. The same request_id again is the same payment (200).",
        tag="Front desk",
        responses=MappingProxyType(
            {
                200: "This request_id was recorded already: that payment",
                404: "No such unit",
                409: "The request_id was used for another payment",
            }
        ),
    ),
    Route(
        key="import_bank_statement",
        method="POST",
        path="/staff/bank-statements",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Upload the bank's statement to match transfers",
        description="CSV with the columns date, amount, payer and memo (and the bank's reference, if "
        "the export has it; the usual Chinese column names are read too). Each credit line is matched "
        "by the unit named in its memo and by the amount owed, and proposed; nothing is paid until "
        "the lines are confirmed. A bad row refuses the whole file, each bad line named. The same "
        "statement again changes nothing (200, as it stands).",
        tag="Front desk",
        max_body_bytes=2 * KIB * KIB,
        body=RequestBody(
            media_type="text/csv",
            also_accepts=("text/plain", "application/csv"),
            description="UTF-8 CSV: date,amount,payer,memo[,reference]; amounts in yuan",
            example=_BANK_CSV_EXAMPLE,
        ),
        responses=MappingProxyType(
            {
                200: "This statement was imported before: as it stands",
                400: "The CSV is empty, not UTF-8, or has invalid lines",
                415: "Not CSV",
            }
        ),
    ),
    Route(
        key="get_bank_statement",
        method="GET",
        path="/staff/bank-statements/{statement_id}",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="A bank statement's lines and their matches",
        tag="Front desk",
        responses=MappingProxyType({404: "No such statement"}),
    ),
    Route(
        key="decide_bank_lines",
        method="POST",
        path="/staff/bank-statements/{statement_id}/decisions",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Confirm matched transfers, or set lines aside",
        description="Each confirmed line lands as a bank transfer, once (keyed on the bank's "
        "reference, so a transfer the desk recorded already is not counted again), for the proposed "
        "unit's bills or the unit named. A line decided before answers what it became.",
        tag="Front desk",
        responses=MappingProxyType(
            {
                404: "No such statement",
                409: "A transfer with this reference is recorded already, for another unit or amount",
            }
        ),
    ),
    Route(
        key="debit_batch",
        method="POST",
        path="/staff/direct-debit/{period}/batch",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Make the period's direct-debit deduction file",
        description="Every unit with a mandate in force and an amount owed for the period (or before) is "
        "a line: its reference, the holder's name and account number (in the file only), the amount. "
        "Made once per period: asking again answers the same batch (200). The file, for the bank, is "
        "behind a link valid five minutes; the answer shows accounts masked.",
        tag="Front desk",
        max_body_bytes=0,
        responses=MappingProxyType(
            {200: "The period's batch was made before: the same one", 409: "Direct debit is not offered"}
        ),
    ),
    Route(
        key="debit_results",
        method="POST",
        path="/staff/direct-debit/results",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Import the bank's direct-debit result file",
        description="CSV with each line's reference (DDyyyymm-nnnn), amount and result (成功/失败, with "
        "the bank's reason). Successes land like any payment, once; failures leave the bills open for "
        "the reminders and the owner is told. A line that does not match its batch refuses the whole "
        "file, named; the same file again changes nothing.",
        tag="Front desk",
        max_body_bytes=2 * KIB * KIB,
        body=RequestBody(
            media_type="text/csv",
            also_accepts=("text/plain", "application/csv"),
            description="UTF-8 CSV: reference,amount,result[,reason] (the usual Chinese names are read too)",
            example=_DEBIT_RESULTS_EXAMPLE,
        ),
        responses=MappingProxyType(
            {400: "The file is empty, not UTF-8, or has invalid lines", 415: "Not CSV"}
        ),
    ),
    Route(
        key="list_reconciliation",
        method="GET",
        path="/staff/reconciliation",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Differences the daily reconciliation found, waiting for staff",
        description="Each morning each rail's statement of the day before is compared with our "
        "payments; every payment the provider has and we don't, we have and it doesn't, or both have "
        "for different amounts is listed here, oldest first, until resolved.",
        tag="Front desk",
    ),
    Route(
        key="resolve_reconciliation",
        method="POST",
        path="/staff/reconciliation/{reconciliation_id}/items/{line}",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Resolve a reconciliation difference",
        description="With a note of what it was and what was done; it leaves the list. Resolving it "
        "again answers it as it stands.",
        tag="Front desk",
        responses=MappingProxyType({404: "No such item", 409: "Changed meanwhile"}),
    ),
    Route(
        key="get_payment",
        method="GET",
        path="/staff/payments/{payment_id}",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="One payment",
        description="Where it landed (bills, credit), its receipt, refunds and void.",
        tag="Front desk",
        responses=MappingProxyType({404: "No payment with this id"}),
    ),
    Route(
        key="payment_receipt",
        method="GET",
        path="/staff/payments/{payment_id}/receipt",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="A payment's receipt (PDF link)",
        description="A link, valid a few minutes, to the receipt PDF (made and stored on first asking), to "
        "print at the desk or send to the owner.",
        tag="Front desk",
        responses=MappingProxyType({404: "No payment with this id", 409: "The payment has no receipt"}),
    ),
    Route(
        key="book_visit",
        method="POST",
        path="/staff/visits",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Book a home collection visit for a unit",
        description="For an owner who phoned or came by: a unit, a day and a slot (the property's). The same "
        "unit, day and slot again is the same visit (200).",
        tag="Home collection",
        responses=MappingProxyType({404: "No such unit", 409: "The slot is full"}),
    ),
    Route(
        key="day_visits",
        method="GET",
        path="/staff/visits",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="The day's home visits",
        description="Each visit of the day (today by default) by slot, with the unit, the owner's name and "
        "phone, what the unit owes and whether the payment was taken. The collector records it at the "
        "door with POST /staff/units/{unit_id}/payments, channel home_visit.",
        tag="Home collection",
    ),
    Route(
        key="invoice_queue",
        method="GET",
        path="/staff/invoices",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Tax invoices (发票) to issue",
        description="Payments whose owner asked for an official tax invoice, oldest first, with the title "
        "and tax number to print.",
        tag="Front desk",
    ),
    Route(
        key="record_invoice",
        method="POST",
        path="/staff/payments/{payment_id}/invoice",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Record a tax invoice issued",
        description="Its number from the tax system; with a title (and tax number) it also records a request "
        "taken at the desk. The payment leaves the list of invoices to issue.",
        tag="Front desk",
        responses=MappingProxyType(
            {404: "No payment with this id", 409: "No invoice asked for, or issued already"}
        ),
    ),
    Route(
        key="payment_queue",
        method="GET",
        path="/staff/payments/review",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Payments waiting for staff",
        description="Double payments kept as credit, payments differing from their bills, payments "
        "for unknown bills or units and in other currencies, oldest first. The unit's overdue ladder "
        "waits until each is resolved.",
        tag="Front desk",
    ),
    Route(
        key="resolve_payment",
        method="POST",
        path="/staff/payments/{payment_id}/resolution",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Resolve a payment of the queue",
        description="keep_credit (the next bill uses it), allocate (its credit pays the open bills now; "
        "a payment without a unit lands on unit_id) or refund (its credit goes back through its provider; "
        "above the approval amount an admin approves it, see the refunds routes).",
        tag="Front desk",
        responses=MappingProxyType(
            {404: "No payment with this id", 409: "Not in the queue, or cannot be done"}
        ),
    ),
    Route(
        key="request_void",
        method="POST",
        path="/staff/payments/{payment_id}/void",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Ask for a desk payment to be voided",
        description="With a reason. An admin other than the one asking, and other than the cashier "
        "who recorded it, approves it; until then nothing changes.",
        tag="Front desk",
        responses=MappingProxyType({404: "No payment with this id", 409: "Not a desk payment, or voided"}),
    ),
    Route(
        key="approve_void",
        method="POST",
        path="/staff/payments/{payment_id}/void/approval",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Approve a void",
        description="Reverses the payment: its bills reopen, its credit is taken back; the receipt "
        "keeps its number, marked void.",
        tag="Front desk",
        max_body_bytes=0,
        responses=MappingProxyType(
            {
                403: "The approver asked for the void or recorded the payment",
                404: "No payment with this id",
                409: "No void asked for, or the payment's credit was used since",
            }
        ),
    ),
    Route(
        key="cash_up",
        method="GET",
        path="/staff/cashup",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Daily cash-up (日结)",
        description="A cashier's payments of a day (the property's local date) with totals by method; "
        "voided payments are listed, not counted. A cashier sees their own; an admin names any cashier.",
        tag="Front desk",
        responses=MappingProxyType({403: "A cashier asked for another cashier's cash-up"}),
    ),
    Route(
        key="start_refund",
        method="POST",
        path="/staff/payments/{payment_id}/refunds",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Refund (part of) a payment",
        description="At most what is left of it (its amount less what was refunded and what refunds on "
        "their way hold). A Stripe payment is refunded through Stripe and posted when Stripe confirms it; "
        "a desk payment is paid back at the desk and posted now. Either way the bills it had paid open "
        "again and the owner is told. Above the property's approval amount it waits for an admin other "
        "than the one asking. The same request_id again is the same refund (200).",
        tag="Refunds",
        responses=MappingProxyType(
            {
                200: "This request_id started a refund before: that refund",
                404: "No payment with this id",
                409: "More than is left, a payment not on an account, voided or refunded, the request_id "
                "used for another refund, or refused by the provider",
                503: "The provider could not be reached: the same request again sends it",
            }
        ),
    ),
    Route(
        key="approve_refund",
        method="POST",
        path="/staff/refunds/{refund_id}/approval",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Approve a refund",
        description="A refund above the property's approval amount, approved by an admin other than the "
        "one who asked for it; it is then sent.",
        tag="Refunds",
        max_body_bytes=0,
        responses=MappingProxyType(
            {
                403: "The approver asked for the refund",
                404: "No refund with this id",
                409: "Not waiting for approval, or refused by the provider",
                503: "The provider could not be reached: approving again sends it",
            }
        ),
    ),
    Route(
        key="period_summary",
        method="GET",
        path="/staff/summary",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_CASHIER)),
        summary="Collection summary of a period",
        description="Bills issued, paid and unpaid; amounts billed, collected and outstanding in minor "
        "units; collection rate in basis points.",
        tag="Reports",
    ),
    Route(
        key="list_unreachable_contacts",
        method="GET",
        path="/staff/contacts/unreachable",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Owners a channel no longer reaches",
        description="Owners whose e-mail address bounced for good or complained, or whose number "
        "failed an SMS for good: the messenger uses their other channel. With their units, why "
        "and when. Importing the units file with a new address or number clears the mark.",
        tag="Units",
    ),
    Route(
        key="import_units",
        method="POST",
        path="/staff/units/import",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Import units and owners from CSV",
        description="All or nothing: any invalid line refuses the whole file, and every bad line is "
        "reported with its number. Numbers use the digits 0-9; phones in E.164 (+8613800138000); "
        "locale zh-CN or en; sms_consent yes/no.",
        tag="Units",
        max_body_bytes=2 * KIB * KIB,  # a few hundred kB for thousands of units
        body=RequestBody(
            media_type="text/csv",
            also_accepts=("text/plain", "application/csv"),
            description="UTF-8 CSV with the header unit_id,building,floor,number,area_m2,owner_id,"
            "owner_name,phone,email,locale,sms_consent",
            example=_CSV_EXAMPLE,
        ),
        responses=MappingProxyType(
            {400: "The CSV is empty, not UTF-8, or has invalid lines", 415: "Not CSV"}
        ),
    ),
    Route(
        key="prepare_cycle",
        method="POST",
        path="/staff/cycles/{period}",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Prepare a billing cycle's draft",
        description="Computes every unit's bill for the period without issuing any: the draft's totals "
        "per building and its exceptions (owners no notice can reach, credit that covers the bill, units "
        "that cannot be billed) are ready to review in a minute (GET). Nothing reaches an owner until the "
        "draft is approved. Only the next period (the one whose notice day has come and whose following "
        'period\'s has not) is prepared as is; any other needs a JSON body with a reason and "confirm": '
        '"backdated", and is written to the ledger. A period with no fee standard in force is never billed.',
        tag="Billing cycles",
        max_body_bytes=2 * KIB,
        responses=MappingProxyType(
            {
                409: "Not the next period, and no reason with the word backdated; no fee standard in "
                "force for the period; or the cycle is prepared already",
            }
        ),
    ),
    Route(
        key="get_cycle",
        method="GET",
        path="/staff/cycles/{period}",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="A billing cycle: its state, totals per building and exceptions",
        description="What a manager reviews before approving: the draft's bills and amount per building "
        "and in all, the fee standard version, the units to look at, and who prepared, approved or "
        "voided it and when.",
        tag="Billing cycles",
        responses=MappingProxyType({404: "No cycle was prepared for the period"}),
    ),
    Route(
        key="approve_cycle",
        method="POST",
        path="/staff/cycles/{period}/approval",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Approve a draft cycle: issue its bills and notices",
        description="Issues every bill of the reviewed draft on its unit's account and sends each "
        "owner's notice. A cycle is approved once: approving again, approving a draft still being "
        "computed, a voided cycle, or a draft computed under a fee standard no longer in force is "
        "refused and changes nothing.",
        tag="Billing cycles",
        max_body_bytes=1 * KIB,
        responses=MappingProxyType(
            {404: "No cycle was prepared for the period", 409: "Not a draft ready for approval"}
        ),
    ),
    Route(
        key="void_cycle",
        method="POST",
        path="/staff/cycles/{period}/void",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Void a cycle before anyone has paid it",
        description="With a reason. A draft is voided as it is; an approved cycle's bills are voided on "
        "their accounts (credit that paid one goes back to the account) and every owner is told. "
        "Refused while any bill of the cycle has a payment of its owner's allocated.",
        tag="Billing cycles",
        max_body_bytes=2 * KIB,
        responses=MappingProxyType(
            {
                404: "No cycle was prepared for the period",
                409: "Voided already, or an owner has paid a bill of it",
            }
        ),
    ),
    Route(
        key="list_calls",
        method="GET",
        path="/staff/call-list",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Owners to call",
        description="Owners whose bill still owes on the pre-due reminder day and whom no message "
        "can reach (no e-mail address, no phone that may take an SMS): whom to call, about what, "
        "and the calls so far. Oldest first.",
        tag="Billing cycles",
    ),
    Route(
        key="record_call",
        method="POST",
        path="/staff/call-list/{call_list_id}/items/{line}",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Record a call's outcome",
        description="Kept on the list and in the bill's ledger. Reached, promised to pay, a wrong "
        "number or a refusal take the owner off the list; no answer or busy keep them on it.",
        tag="Billing cycles",
        max_body_bytes=2 * KIB,
        responses=MappingProxyType({404: "No such call", 409: "Done already, or changed meanwhile"}),
    ),
    Route(
        key="create_standard",
        method="POST",
        path="/staff/fee-standards",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Draft a new fee standard version",
        description="The version's id, effective date, legal basis (the government approval or filing "
        "and the contract's fee clauses), each item with its basis and monthly rate in minor units, and "
        "the cost breakdown, whose shares add up to exactly 100 % (10000 basis points). It takes effect "
        "after every published version. Nothing is public until it is published.",
        tag="Fee standards",
        responses=MappingProxyType(
            {409: "The id is taken, or it would not take effect after the published versions"}
        ),
    ),
    Route(
        key="replace_standard",
        method="PUT",
        path="/staff/fee-standards/{version}",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Replace a draft version",
        description="A draft is replaced as a whole. A published version never changes: publish a "
        "correction as a new version with its effective date.",
        tag="Fee standards",
        responses=MappingProxyType(
            {
                404: "No version with this id",
                409: "Published (standard_published), changed meanwhile, or it would not take effect "
                "after the published versions",
            }
        ),
    ),
    Route(
        key="list_standards",
        method="GET",
        path="/staff/fee-standards",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="Fee standard versions",
        description="Every version, drafts included, oldest effective date first, and the one in force "
        "today. The launch standard from the property's configuration is the first published one.",
        tag="Fee standards",
    ),
    Route(
        key="get_standard",
        method="GET",
        path="/staff/fee-standards/{version}",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="One fee standard version",
        tag="Fee standards",
        responses=MappingProxyType({404: "No version with this id"}),
    ),
    Route(
        key="publish_standard",
        method="POST",
        path="/staff/fee-standards/{version}/publication",
        function="api",
        audience=Staff((ROLE_ADMIN,)),
        summary="Publish a draft (公示)",
        description="With the publication period (local dates, both included) and the channels it is "
        "posted on. The period lasts at least billing.standard_publication_days days and starts that "
        "many days before the version takes effect, today or later. The version is then fixed; its "
        "public page and printable notice are online, the publication is in the ledger, and with "
        "owner_message every owner gets a message (queued in batches).",
        tag="Fee standards",
        max_body_bytes=2 * KIB,
        responses=MappingProxyType(
            {
                404: "No version with this id",
                409: "Published already (standard_published), it would not take effect after the "
                "published versions, or the period is too short, starts too late or in the past",
            }
        ),
    ),
    Route(
        key="standard_page",
        method="GET",
        path="/standards/{version}",
        function="api",
        audience=Public(),
        summary="A published fee standard (public page)",
        description="For everyone, no login, in zh-CN or en (?lang=; another value shows the property's "
        "default language): the version, its effective date, legal basis, items and rates, cost "
        "breakdown, publication, the printable notice and the earlier versions. A draft or an unknown "
        "version is the not-found page.",
        tag="Fee standards",
        responses=MappingProxyType({404: "No published version with this id"}),
    ),
    Route(
        key="standard_notice",
        method="GET",
        path="/standards/{version}/notice",
        function="api",
        audience=Public(),
        summary="A published fee standard's printable notice (PDF, A4)",
        description="Redirects (303) to a link, valid a few minutes, to the A4 notice posted at the "
        "entrances and building doors, in zh-CN or en (?lang=).",
        tag="Fee standards",
        responses=MappingProxyType({303: "To the notice PDF", 404: "No published version with this id"}),
    ),
    Route(
        key="create_ticket",
        method="POST",
        path="/staff/tickets",
        function="api",
        audience=Staff((ROLE_ADMIN, ROLE_AGENT)),
        summary="Take a service request",
        description="Records a repair, consultation, complaint or suggestion and queues it for routing to "
        "a department. The same request again within a minute is the same ticket (200, created false).",
        tag="Service desk",
        responses=MappingProxyType({200: "The same request was taken within the minute: that ticket"}),
    ),
    Route(
        key="get_ticket",
        method="GET",
        path="/staff/tickets/{ticket_id}",
        function="api",
        audience=Staff(STAFF_READERS),
        summary="One service request",
        description="The request with its routing: department, priority and deadline.",
        tag="Service desk",
        responses=MappingProxyType({404: "No ticket with this id"}),
    ),
    # Payment providers' notifications.
    Route(
        key="stripe_webhook",
        method="POST",
        path="/webhooks/stripe",
        function="payment_webhook",
        audience=ProviderSignature("stripe"),
        summary="Stripe events",
        description="Checkout, refund and dispute events signed by Stripe (Stripe-Signature header over "
        "the raw body, timestamp within 5 minutes either way). Each payment is credited once and each "
        "refund posted once whatever the deliveries; a repeat of an event gets its first answer.",
        tag="Payment providers",
        max_body_bytes=256 * KIB,  # Stripe's events are a few kB
        body=RequestBody(
            media_type="application/json",
            description="A Stripe event, exactly as Stripe signed it",
            example=_STRIPE_EVENT_EXAMPLE,
            schema=MappingProxyType(
                StripeEventEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
            ),
        ),
        responses=MappingProxyType(
            {
                409: "The same event is being processed, or it is about a payment that has not landed "
                "yet; Stripe delivers it again later"
            }
        ),
    ),
    Route(
        key="wechatpay_notify",
        method="POST",
        path="/webhooks/wechatpay",
        function="payment_webhook",
        audience=ProviderSignature("wechat_pay"),
        summary="WeChat Pay notifications",
        description="Payment notifications from WeChat Pay API v3: signed by the platform (Wechatpay-Signature, "
        "-Timestamp within 5 minutes, -Nonce, -Serial over the raw body), the resource encrypted with "
        "AEAD_AES_256_GCM under the APIv3 key. A paid order lands once on its unit's account whatever the "
        "deliveries. Answered 204 with no body; a refusal or a failure is answered "
        '{"code": "FAIL", "message": ...} with a 4xx/5xx, and WeChat Pay delivers again.',
        tag="Payment providers",
        max_body_bytes=64 * KIB,  # a notification is about 1 kB
        body=RequestBody(
            media_type="application/json",
            description="A WeChat Pay notification, exactly as WeChat Pay signed it",
            example=_WECHATPAY_NOTIFICATION_EXAMPLE,
            schema=MappingProxyType(
                {
                    "type": "object",
                    "required": ["id", "event_type", "resource_type", "resource"],
                    "properties": {
                        "id": {"type": "string"},
                        "create_time": {"type": "string"},
                        "event_type": {"type": "string", "examples": ["TRANSACTION.SUCCESS"]},
                        "resource_type": {"type": "string", "examples": ["encrypt-resource"]},
                        "summary": {"type": "string"},
                        "resource": {
                            "type": "object",
                            "required": ["algorithm", "ciphertext", "nonce"],
                            "properties": {
                                "algorithm": {"type": "string", "examples": ["AEAD_AES_256_GCM"]},
                                "ciphertext": {"type": "string"},
                                "associated_data": {"type": "string"},
                                "original_type": {"type": "string"},
                                "nonce": {"type": "string"},
                            },
                        },
                    },
                }
            ),
        ),
        responses=MappingProxyType(
            {
                204: "Received: landed once (or known already, or not ours)",
                500: "Not landed this time (a store fault): WeChat Pay delivers it again",
            }
        ),
    ),
    Route(
        key="alipay_notify",
        method="POST",
        path="/webhooks/alipay",
        function="payment_webhook",
        audience=ProviderSignature("alipay"),
        summary="Alipay notifications",
        description="Asynchronous notifications (异步通知) from Alipay for page and WAP pay: a UTF-8 form "
        "signed with Alipay's RSA2 key (sign, sign_type) over the other parameters, sorted. A paid order "
        "lands once on its unit's account whatever the resends (Alipay resends the same body for about "
        "25 hours until answered). Answered with the text success; a refusal or a failure is answered "
        "fail, and Alipay sends it again.",
        tag="Payment providers",
        max_body_bytes=64 * KIB,  # a notification is about 2 kB
        body=RequestBody(
            media_type="application/x-www-form-urlencoded",
            description="An Alipay notification, exactly as Alipay signed it",
            example=_ALIPAY_NOTIFICATION_EXAMPLE,
            schema=MappingProxyType(
                {
                    "type": "object",
                    "required": ["notify_id", "app_id", "out_trade_no", "trade_status", "sign"],
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "notify_time",
                            "notify_type",
                            "notify_id",
                            "app_id",
                            "charset",
                            "version",
                            "sign_type",
                            "sign",
                            "trade_no",
                            "out_trade_no",
                            "trade_status",
                            "total_amount",
                            "gmt_payment",
                        )
                    },
                }
            ),
        ),
        responses=MappingProxyType({200: "success (landed once, known already, or not ours) or fail"}),
    ),
)


def _check(routes: tuple[Route, ...]) -> None:
    for attribute in ("key", "route_key"):
        values = [getattr(route, attribute) for route in routes]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"route {attribute}s must be unique, repeated: {', '.join(repeated)}")


_check(ROUTES)
_BY_KEY = {route.key: route for route in ROUTES}
_BY_ROUTE_KEY = {route.route_key: route for route in ROUTES}


def route(key: str) -> Route:
    return _BY_KEY[key]


def find(route_key: str) -> Route | None:
    """The route API Gateway matched (the event's ``routeKey``, e.g. ``"GET /pay/{token}"``)."""
    return _BY_ROUTE_KEY.get(route_key)


def routes_of(function: str) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.function == function)
