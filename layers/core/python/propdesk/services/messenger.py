"""The messenger: renders a queued message in the recipient's locale and sends it once.

Per message: the send record is claimed first, a conditional write that takes the message
under a lease only when it is new or waiting for a retry, so two copies of one message
processed at once never both send (the second raises ``MessageInFlight`` and the queue
redelivers it; a repeat of a sent message is skipped; a crashed holder's message is taken
over once its lease runs out). Channels are chosen from what the recipient can receive
(fallback SMS <-> email, the choice recorded), each channel that goes out is recorded at once (a retry resends only
what failed), and a provider failure is raised so the queue retries and finally keeps the
message in its dead-letter queue (as ``SendFailed``, whose text carries no contact). Logs carry
ids, templates and channels, never contacts or names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from propdesk.config import PropertyConfig
from propdesk.domain.billing import Bill
from propdesk.messaging.channels import EMAIL, SMS, Delivery, choose_channels
from propdesk.messaging.requests import MessageRequest
from propdesk.messaging.senders import EmailSender, SesEmailSender, SmsNotPossible, SmsSender, SnsSmsSender
from propdesk.messaging.templates import render
from propdesk.services.short_links import ShortLinks
from propdesk.store import ledger
from propdesk.store.bills import BillRepository
from propdesk.store.messages import (
    DROPPED,
    SENT,
    TERMINAL,
    UNDELIVERABLE,
    MessageInFlight,
    MessageRecord,
    MessageRepository,
)
from propdesk.store.owners import OwnerRepository

logger = Logger(child=True)

DEPARTMENT_RECIPIENT = "department"


class SendFailed(Exception):
    """A channel's provider failed (the queue retries the message). Its text names only the
    channels and the providers' error codes, never the recipient: a provider's own message may
    quote the address or number, so it is not kept as the cause (it is on ``errors`` in memory)."""

    def __init__(self, failures: tuple[tuple[str, str], ...], errors: tuple[Exception, ...] = ()) -> None:
        super().__init__("; ".join(f"{channel} failed: {code}" for channel, code in failures))
        self.failures = failures
        self.errors = errors

    @property
    def code(self) -> str:
        return ", ".join(code for _channel, code in self.failures)

    @classmethod
    def of(cls, channel: str, exc: Exception) -> SendFailed:
        code = type(exc).__name__
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code") or code)
        return cls(((channel, code),), (exc,))

    @classmethod
    def combined(cls, failures: list[SendFailed]) -> SendFailed:
        return cls(
            tuple(f for failure in failures for f in failure.failures),
            tuple(e for failure in failures for e in failure.errors),
        )


class Pacer:
    """Keeps each channel under ``rate`` sends per second by waiting between sends."""

    def __init__(
        self,
        rate: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        now = self._clock()
        ready = self._next.get(channel, now)
        if ready > now:
            self._sleep(ready - now)
            now = ready
        self._next[channel] = now + self._interval


@dataclass(frozen=True)
class Recipient:
    key: str  # owner id, or "department"
    name: str
    email: str | None
    phone: str | None
    sms_consent: bool
    locale: str


@dataclass(frozen=True)
class Outcome:
    message_id: str
    status: str  # sent | undeliverable | dropped (its bill paid meanwhile) | skipped (already done)
    channels: tuple[str, ...]
    note: str | None = None


class Messenger:
    def __init__(
        self,
        config: PropertyConfig,
        *,
        owners: OwnerRepository | None = None,
        messages: MessageRepository | None = None,
        email: EmailSender | None = None,
        sms: SmsSender | None = None,
        pacer: Pacer | None = None,
        append: Callable[..., bool] = ledger.append,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        bills: Callable[[str], Bill | None] | None = None,
    ) -> None:
        self._config = config
        self._owners = owners or OwnerRepository()
        self._messages = messages or MessageRepository()
        self._email = email or SesEmailSender(config.messaging.sender_email)
        self._sms = sms or SnsSmsSender(config.messaging.sms_sender_id)
        self._pacer = pacer or Pacer(config.messaging.max_send_rate)
        self._append = append
        self._now = now
        self._bills = bills or BillRepository().get

    def _recipient(self, request: MessageRequest) -> Recipient | None:
        if request.owner_id:
            owner = self._owners.get(request.owner_id)
            if owner is None:
                return None
            return Recipient(
                key=owner.owner_id,
                name=owner.name,
                email=owner.email,
                phone=owner.phone,
                sms_consent=owner.sms_consent,
                locale=owner.locale,
            )
        if request.to_email:
            code = str(request.context.get("department") or "")
            name = next(
                (d.name.get(self._config.default_locale) for d in self._config.departments if d.code == code),
                "",
            )
            return Recipient(
                key=DEPARTMENT_RECIPIENT,
                name=name or self._config.name.get(self._config.default_locale),
                email=request.to_email,
                phone=None,
                sms_consent=False,
                locale=self._config.default_locale,
            )
        return None

    def _record(self, request: MessageRequest, event: str, data: dict) -> None:
        at = self._now()
        self._append(ledger.message_entity(request.message_id), event, at=at, key=event, data=data)
        # The bill's ledger tells what its owner was told; a receipt (of a payment that may span
        # bills, or be credit only) is told on the account's.
        bill_id, unit_id = request.context.get("bill_id"), request.context.get("unit_id")
        entity = (
            ledger.bill_entity(bill_id)
            if bill_id
            else ledger.account_entity(unit_id)
            if unit_id and request.context.get("receipt_no")
            else None
        )
        if entity:
            self._append(
                entity,
                f"{request.template}_{event}",
                at=at,
                key=f"{event}#{request.message_id}",
                data=data,
            )

    def deliver(self, request: MessageRequest) -> Outcome:
        """Send the message unless it is done; raises ``MessageInFlight`` (retry later) while
        another invocation is sending it, and ``SendFailed`` when a channel failed (retried)."""
        recipient = self._recipient(request)
        record = self._messages.claim(
            message_id=request.message_id,
            template=request.template,
            recipient=recipient.key if recipient else (request.owner_id or DEPARTMENT_RECIPIENT),
            now=self._now(),
        )
        if record.claim is None or record.status in TERMINAL:
            logger.info("message already handled", message_id=request.message_id, status=record.status)
            return Outcome(request.message_id, "skipped", record.channels, record.note)
        try:
            return self._send(request, recipient, record)
        except BaseException as exc:
            # Record the failed attempt and release the lease so the queue's retry can take it.
            note = str(exc) if isinstance(exc, SendFailed) else f"failed: {type(exc).__name__}"
            self._messages.attempt_failed(request.message_id, note=note, claim=record.claim)
            raise

    def _send(self, request: MessageRequest, recipient: Recipient | None, record: MessageRecord) -> Outcome:
        assert record.claim is not None
        if request.while_unpaid and not self._still_owed(request.while_unpaid):
            return self._dropped(request, claim=record.claim)
        if recipient is None:
            delivery = Delivery(channels=(), note="undeliverable: unknown recipient")
        else:
            delivery = choose_channels(
                request.channels,
                has_email=bool(recipient.email),
                has_phone=bool(recipient.phone),
                sms_consent=recipient.sms_consent,
            )
        if not delivery.channels:
            return self._undeliverable(request, delivery.note, claim=record.claim)

        assert recipient is not None
        rendered = render(
            request.template,
            locale=recipient.locale,
            context=request.context,
            recipient_name=recipient.name,
            config=self._config,
            # The SMS's short link, made only when an SMS is still to go (never for e-mail alone).
            short_link=ShortLinks().shorten
            if SMS in delivery.channels and SMS not in record.channels
            else None,
        )
        done = list(record.channels)
        notes = [delivery.note] if delivery.note else []
        pending = [channel for channel in delivery.channels if channel not in done]
        failures: list[SendFailed] = []
        while pending:
            channel = pending.pop(0)
            try:
                self._pacer.wait(channel)
                if channel == EMAIL:
                    provider_id = self._email.send(
                        to=recipient.email or "",
                        subject=rendered.subject,
                        text=rendered.text,
                        html=rendered.html,
                    )
                else:
                    provider_id = self._sms.send(phone=recipient.phone or "", text=rendered.sms)
            except SmsNotPossible as exc:
                notes.append(f"sms refused by provider ({exc})")
                if EMAIL not in done and EMAIL not in pending and recipient.email:
                    notes.append("fallback to email")
                    pending.append(EMAIL)
                continue
            except Exception as exc:
                # Try the other channels first; the message then fails as a whole and is retried.
                failures.append(SendFailed.of(channel, exc))
                logger.warning(
                    "send failed, will retry",
                    message_id=request.message_id,
                    template=request.template,
                    channel=channel,
                    error=failures[-1].code,
                )
                continue
            self._messages.channel_sent(request.message_id, channel=channel, provider_id=provider_id)
            done.append(channel)
        if failures:
            # Raised without its cause: a provider's error text may quote the recipient's address,
            # and failed records are logged with their traceback.
            raise SendFailed.combined(failures) from None

        note = "; ".join(notes) or None
        if not done:
            return self._undeliverable(request, note, claim=record.claim)
        self._finish(request, SENT, note, claim=record.claim)
        self._record(request, "sent", {"template": request.template, "channels": done, "note": note or ""})
        logger.info(
            "message sent", message_id=request.message_id, template=request.template, channels=done, note=note
        )
        return Outcome(request.message_id, SENT, tuple(done), note)

    def _finish(self, request: MessageRequest, status: str, note: str | None, *, claim: str) -> None:
        if not self._messages.finish(
            request.message_id, status=status, note=note, now=self._now(), claim=claim
        ):
            # Our lease ran out and another invocation took the message over: it finishes it.
            logger.warning("send lease lost before finishing", message_id=request.message_id, status=status)

    def _still_owed(self, bill_id: str) -> bool:
        """Read just before sending: the bill is open and owes something."""
        bill = self._bills(bill_id)
        return bill is not None and bill.is_open and bill.total_minor > bill.paid_minor

    def _dropped(self, request: MessageRequest, *, claim: str) -> Outcome:
        note = "its bill was paid before it went"
        self._finish(request, DROPPED, note, claim=claim)
        self._record(request, "dropped", {"template": request.template, "note": note})
        logger.info("message dropped", message_id=request.message_id, template=request.template)
        return Outcome(request.message_id, DROPPED, (), note)

    def _undeliverable(self, request: MessageRequest, note: str | None, *, claim: str) -> Outcome:
        self._finish(request, UNDELIVERABLE, note, claim=claim)
        self._record(request, "undeliverable", {"template": request.template, "note": note or ""})
        logger.warning(
            "message undeliverable", message_id=request.message_id, template=request.template, note=note
        )
        return Outcome(request.message_id, UNDELIVERABLE, (), note)


__all__ = ["EMAIL", "SMS", "MessageInFlight", "Messenger", "Outcome", "Pacer", "Recipient", "SendFailed"]
