"""Bank direct debit (银行代扣/代收) by file exchange, as Chinese banks run it (F4).

- **Enrolment**: the owner gives the bank, the account holder's name and the account number from
  the account page (and agrees to the debit). The name and number are encrypted under the
  mandates key (KMS), bound to the unit by the encryption context; only their masked forms
  (``张*``, ``6222 **** **** 1234``) are stored in the clear, shown anywhere or logged. The owner
  can cancel at any time; enrolling again replaces the account.
- **The deduction file** (代扣文件): for a period, every unit with a mandate in force and an amount
  owed for that period or before is a line of the batch ``DD<yyyymm>``: its reference
  (``DD202701-0003``), the holder's name and the account number (decrypted only here, into the
  file), the amount. The file is written once to the documents bucket (``debit/``) and an admin
  downloads it through a link that lasts five minutes; asking again gives the same batch.
- **The bank's result file** (回盘文件): a CSV with each line's reference, amount and result
  (成功/失败, and the bank's reason). Successes land like any payment, as ``debit:<reference>``,
  once; failures leave the bills open for the reminders and the owner is told, with the pay link.
  A file with a line that does not match its batch (unknown reference, another amount) is refused
  whole, each bad line named; the same file again changes nothing.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from propdesk import aws
from propdesk.config import PropertyConfig
from propdesk.domain.banks import CN_BANKS
from propdesk.domain.billing import Bill
from propdesk.messaging.requests import MESSAGES_QUEUE, MessageRequest
from propdesk.queues import QueueProducer
from propdesk.services.accounts import account_view
from propdesk.services.bankstatements import parse_amount
from propdesk.services.errors import DeskError
from propdesk.services.payments import IncomingPayment, PaymentOutcome, record_payment
from propdesk.settings import get_settings
from propdesk.store import ledger
from propdesk.store.mandates import ACTIVE, CANCELLED, Mandate, MandateRepository
from propdesk.store.statements import HEADER, READY, StatementLine, StatementRepository

logger = Logger(child=True)

KIND = "debit"
PROVIDER = "bank_debit"
LINK_SECONDS = 300
SENT, PAID, FAILED = "sent", "paid", "failed"
_REFERENCE = re.compile(r"\b(DD\d{6})-(\d{4})\b")


# --- enrolment -----------------------------------------------------------------------------------


def normalise_account(text: str) -> str:
    """An account or card number: digits only, spaces and hyphens dropped; 10 to 25 digits."""
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\d{10,25}", digits):
        raise ValueError("an account number is 10 to 25 digits")
    return digits


def mask_account(number: str) -> str:
    """``6222 **** **** 1234``: the bank's first four digits and the last four."""
    return f"{number[:4]} **** **** {number[-4:]}"


def mask_name(name: str) -> str:
    """``张*``, ``欧阳**``, ``A*** L***``: the first character of each part."""
    name = name.strip()
    if re.search(r"[\u4e00-\u9fff]", name):
        return name[0] + "*" * max(1, len(name) - 1)
    return " ".join(part[0] + "***" for part in name.split())


def _context(config: PropertyConfig, unit_id: str) -> dict[str, str]:
    return {"property_id": config.property_id, "unit_id": unit_id, "purpose": "direct_debit"}


def _key() -> str:
    key = get_settings().mandates_key
    if not key:
        raise RuntimeError("the mandates key is not configured for this function")
    return key


def enrol(
    unit_id: str,
    *,
    owner_id: str | None,
    bank: str,
    holder: str,
    account: str,
    config: PropertyConfig,
    now: datetime,
    mandates: MandateRepository | None = None,
) -> Mandate:
    """The owner's mandate for ``unit_id`` (replacing one before it); ValueError for bad input."""
    mandates = mandates or MandateRepository()
    number = normalise_account(account)
    holder = holder.strip()
    if not 1 <= len(holder) <= 60:
        raise ValueError("the account holder's name is 1 to 60 characters")
    if bank not in CN_BANKS:
        raise ValueError("choose the bank from the list")
    secret = json.dumps({"holder": holder, "account": number}, ensure_ascii=False).encode()
    blob = aws.client("kms").encrypt(
        KeyId=_key(), Plaintext=secret, EncryptionContext=_context(config, unit_id)
    )
    current = mandates.get(unit_id)
    mandate = Mandate(
        unit_id=unit_id,
        owner_id=owner_id,
        bank=bank,
        holder_masked=mask_name(holder),
        account_masked=mask_account(number),
        ciphertext=base64.b64encode(blob["CiphertextBlob"]).decode(),
        created_at=now,
        version=current.version if current is not None else None,
    )
    saved = mandates.save(mandate)
    if saved is None:
        raise DeskError(409, "changed", "The enrolment changed meanwhile; try again.")
    ledger.append(
        ledger.account_entity(unit_id),
        "debit_enrolled",
        at=now,
        key=f"debit_enrolled#{now.isoformat()}",
        data={"bank": bank, "account": saved.account_masked},
    )
    logger.info("direct debit enrolled", unit_id=unit_id)
    return saved


def cancel(unit_id: str, *, now: datetime, mandates: MandateRepository | None = None) -> Mandate | None:
    mandates = mandates or MandateRepository()
    current = mandates.get(unit_id)
    if current is None or not current.active:
        return current
    saved = mandates.save(replace(current, state=CANCELLED, cancelled_at=now))
    if saved is None:
        raise DeskError(409, "changed", "The enrolment changed meanwhile; try again.")
    ledger.append(
        ledger.account_entity(unit_id), "debit_cancelled", at=now, key=f"debit_cancelled#{now.isoformat()}"
    )
    return saved


def reveal(mandate: Mandate, config: PropertyConfig) -> tuple[str, str]:
    """The holder's name and the account number (for the bank's file only)."""
    plain = aws.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(mandate.ciphertext),
        EncryptionContext=_context(config, mandate.unit_id),
        KeyId=_key(),
    )["Plaintext"]
    value = json.loads(plain)
    return str(value["holder"]), str(value["account"])


# --- the deduction file --------------------------------------------------------------------------


def batch_id_of(period: str) -> str:
    return f"DD{period.replace('-', '')}"


def reference(batch_id: str, line: int) -> str:
    return f"{batch_id}-{line:04d}"


@dataclass(frozen=True)
class Batch:
    batch_id: str
    created: bool
    lines: tuple[StatementLine, ...]
    file_key: str
    url: str | None = None


def _owed_for(bills: Sequence[Bill], period: str) -> list[Bill]:
    return [bill for bill in bills if bill.period <= period and bill.total_minor > bill.paid_minor]


def export_batch(
    period: str,
    *,
    config: PropertyConfig,
    staff_id: str,
    now: datetime,
    repo: StatementRepository | None = None,
    mandates: MandateRepository | None = None,
    s3: Any = None,
) -> Batch:
    """The period's deduction batch and its file (made once), with a five-minute download link."""
    repo = repo or StatementRepository()
    mandates = mandates or MandateRepository()
    s3 = s3 or aws.s3_client()
    bucket = get_settings().documents_bucket
    if not bucket:
        raise RuntimeError("documents_bucket is not configured for this function")
    batch_id = batch_id_of(period)
    file_key = f"debit/{config.property_id}/{batch_id}.csv"
    stored = repo.header(batch_id)
    created = False
    if stored is None or stored.state != READY:
        rows: list[StatementLine] = []
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["序号", "户名", "账号", "开户行", "金额(元)", "备注"])
        # Bills in an earlier file whose result has not come back yet are not asked for again.
        in_flight = {bill for line in repo.waiting(KIND, limit=10_000) for bill in line.data["bill_ids"]}
        for mandate in mandates.active():
            view = account_view(mandate.unit_id)
            owed = _owed_for(view.open_bills, period) if view is not None else []
            bills = [bill for bill in owed if bill.bill_id not in in_flight]
            amount = sum(bill.total_minor - bill.paid_minor for bill in bills)
            if amount <= 0:
                continue
            line = len(rows) + 1
            holder, number = reveal(mandate, config)
            ref = reference(batch_id, line)
            writer.writerow([line, holder, number, mandate.bank, f"{amount // 100}.{amount % 100:02d}", ref])
            rows.append(
                StatementLine(
                    statement_id=batch_id,
                    line=line,
                    kind=KIND,
                    state=SENT,
                    created_at=now,
                    data={
                        "reference": ref,
                        "unit_id": mandate.unit_id,
                        "owner_id": mandate.owner_id,
                        "bank": mandate.bank,
                        "account": mandate.account_masked,
                        "amount_minor": amount,
                        "bill_ids": [bill.bill_id for bill in bills],
                    },
                    waiting=True,  # until the bank's result for it is imported
                )
            )
        header = StatementLine(
            statement_id=batch_id,
            line=HEADER,
            kind=KIND,
            state=READY,
            created_at=now,
            data={
                "period": period,
                "by": staff_id,
                "lines": len(rows),
                "amount_minor": sum(int(row.data["amount_minor"]) for row in rows),
                "file": file_key,
            },
        )
        begun, created = repo.begin(header)
        if created or begun.state != READY:
            # The file first (the bank's copy), then the lines, then the header says it is whole.
            s3.put_object(
                Bucket=bucket,
                Key=file_key,
                Body=("\ufeff" + out.getvalue()).encode("utf-8"),
                ContentType="text/csv; charset=utf-8",
                ServerSideEncryption="AES256",
            )
            repo.put_lines(rows)
            repo.save_changed(replace(begun, state=READY))
            logger.info("deduction batch written", batch_id=batch_id, lines=len(rows))
    lines = tuple(repo.lines(batch_id)[1:])
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": file_key,
            "ResponseContentType": "text/csv; charset=utf-8",
            "ResponseContentDisposition": f'attachment; filename="{batch_id}.csv"',
        },
        ExpiresIn=LINK_SECONDS,
    )
    return Batch(batch_id, created, lines, file_key, url)


# --- the bank's result file ----------------------------------------------------------------------

RESULT_COLUMNS = {
    "reference": ("reference", "备注", "摘要", "用途"),
    "amount": ("amount", "金额", "金额(元)", "扣款金额"),
    "result": ("result", "结果", "扣款结果", "处理结果", "状态"),
    "reason": ("reason", "原因", "失败原因", "备注说明"),
}
SUCCESS_WORDS = {"成功", "success", "succeeded", "ok", "扣款成功"}
FAILURE_WORDS = {"失败", "failed", "failure", "扣款失败"}


class ResultsRejected(Exception):
    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass(frozen=True)
class ResultLine:
    line: int  # in the file
    batch_id: str
    batch_line: int
    amount_minor: int
    succeeded: bool
    reason: str


def parse_results(text: str) -> list[ResultLine]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None))
    try:
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ResultsRejected([(reader.line_num, f"not CSV: {exc}")]) from None
    if not rows:
        raise ResultsRejected([(1, "the file is empty")])
    header = [cell.strip().lower() for cell in rows[0]]
    at: dict[str, int] = {}
    for name, aliases in RESULT_COLUMNS.items():
        for alias in aliases:
            if alias.lower() in header:
                at[name] = header.index(alias.lower())
                break
    missing = [name for name in ("reference", "amount", "result") if name not in at]
    if missing:
        raise ResultsRejected([(1, "the header needs the columns " + ", ".join(missing))])
    found: list[ResultLine] = []
    problems: list[tuple[int, str]] = []
    for number, row in enumerate(rows[1:], start=2):
        cells = row + [""] * (len(header) - len(row))
        match = _REFERENCE.search(cells[at["reference"]])
        if match is None:
            problems.append((number, "no batch reference (DDyyyymm-nnnn)"))
            continue
        try:
            amount = parse_amount(cells[at["amount"]])
        except ValueError as exc:
            problems.append((number, str(exc)))
            continue
        word = cells[at["result"]].strip().lower()
        if word not in SUCCESS_WORDS and word not in FAILURE_WORDS:
            problems.append((number, f"result {cells[at['result']]!r} is neither 成功 nor 失败"))
            continue
        reason = cells[at["reason"]].strip() if "reason" in at else ""
        found.append(
            ResultLine(
                number, match.group(1), int(match.group(2)), amount, word in SUCCESS_WORDS, reason[:100]
            )
        )
    seen: dict[tuple[str, int], int] = {}
    for result in found:
        key = (result.batch_id, result.batch_line)
        if key in seen:
            problems.append((result.line, f"the same line as line {seen[key]} (one result per line)"))
        seen.setdefault(key, result.line)
    if problems:
        raise ResultsRejected(problems)
    return found


@dataclass(frozen=True)
class Applied:
    reference: str
    unit_id: str
    state: str  # paid | failed
    changed: bool  # False: this line had its result already
    payment_id: str | None = None
    receipt_no: str | None = None


def import_results(
    text: str,
    *,
    config: PropertyConfig,
    staff_id: str,
    now: datetime,
    repo: StatementRepository | None = None,
    record: Callable[..., PaymentOutcome] = record_payment,
    notify: Callable[[Sequence[MessageRequest]], Any] | None = None,
    pay_url: Callable[[str, str], str] | None = None,  # (unit, owner) -> the account page's link
    receipt_url: Callable[..., str] | None = None,
) -> list[Applied]:
    """Apply the bank's results: successes land once, failures are told to the owner once."""
    repo = repo or StatementRepository()
    results = parse_results(text)
    batches: dict[str, dict[int, StatementLine] | None] = {}
    problems: list[tuple[int, str]] = []
    for result in results:
        if result.batch_id not in batches:
            lines = repo.lines(result.batch_id)
            found = lines and lines[0].kind == KIND
            batches[result.batch_id] = {line.line: line for line in lines[1:]} if found else None
        batch = batches[result.batch_id]
        if batch is None:
            problems.append((result.line, f"no deduction batch {result.batch_id}"))
            continue
        line = batch.get(result.batch_line)
        if line is None:
            problems.append((result.line, f"no line {result.batch_line} in batch {result.batch_id}"))
            continue
        if int(line.data["amount_minor"]) != result.amount_minor:
            problems.append((result.line, "the amount is not the batch line's"))
    if problems:
        raise ResultsRejected(sorted(set(problems)))
    applied: list[Applied] = []
    for result in results:
        line = batches[result.batch_id][result.batch_line]  # type: ignore[index] - checked above
        applied.append(
            _apply(line, result, config=config, staff_id=staff_id, now=now, repo=repo, record=record,
                   notify=notify, pay_url=pay_url, receipt_url=receipt_url)
        )  # fmt: skip
    return applied


def _apply(
    line: StatementLine,
    result: ResultLine,
    *,
    config: PropertyConfig,
    staff_id: str,
    now: datetime,
    repo: StatementRepository,
    record: Callable[..., PaymentOutcome],
    notify: Callable[[Sequence[MessageRequest]], Any] | None,
    pay_url: Callable[[str, str], str] | None,
    receipt_url: Callable[..., str] | None,
) -> Applied:
    data = dict(line.data)
    ref, unit_id = str(data["reference"]), str(data["unit_id"])
    if line.state in (PAID, FAILED):
        return Applied(ref, unit_id, line.state, False, line.payment_id)
    if result.succeeded:
        outcome = record(
            IncomingPayment(
                payment_id=f"debit:{ref}",
                provider=PROVIDER,
                method="direct_debit",
                channel="bank",
                unit_id=unit_id,
                amount_minor=result.amount_minor,
                currency=config.currency,
                paid_at=now,
                targets=tuple(data["bill_ids"]),
                reference=ref,
                recorded_by=staff_id,
                unit_known=True,
                owner_id=data.get("owner_id"),
            ),
            config=config,
            now=now,
            receipt_url=receipt_url,
        )
        repo.save_changed(
            replace(
                line, state=PAID, waiting=False, payment_id=outcome.payment_id, data={**data, "by": staff_id}
            )
        )
        return Applied(ref, unit_id, PAID, True, outcome.payment_id, outcome.receipt_no)
    saved = repo.save_changed(
        replace(line, state=FAILED, waiting=False, data={**data, "by": staff_id, "reason": result.reason})
    )
    if saved is not None and data.get("owner_id"):
        send = notify or _queue
        context: dict[str, Any] = {
            "unit_id": unit_id,
            "amount_minor": result.amount_minor,
            "currency": config.currency,
            "bills": [{"bill_id": b, "period": b.rsplit("#", 1)[-1]} for b in data["bill_ids"]],
            "reason": result.reason,
        }
        if pay_url is not None:
            context["pay_url"] = pay_url(unit_id, str(data["owner_id"]))
        send(
            [
                MessageRequest(
                    message_id=f"payment_failed#debit:{ref}",
                    template="payment_failed",
                    owner_id=str(data["owner_id"]),
                    channels=("email", "sms"),
                    context=context,
                )
            ]
        )
    ledger.append(
        ledger.account_entity(unit_id),
        "debit_failed",
        at=now,
        key=f"debit_failed#{ref}",
        data={"reference": ref, "amount_minor": result.amount_minor, "reason": result.reason},
    )
    logger.info("direct debit failed", reference=ref, unit_id=unit_id)
    return Applied(ref, unit_id, FAILED, True)


def _queue(messages: Sequence[MessageRequest]) -> None:
    QueueProducer(MESSAGES_QUEUE).send(messages)


__all__ = ["ACTIVE", "Applied", "Batch", "cancel", "enrol", "export_batch", "import_results", "mask_account"]
