"""Which channels a message goes by: the requested ones the recipient can receive, with a
fallback SMS <-> email, and the reason recorded whenever a requested channel is skipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EMAIL = "email"
SMS = "sms"


@dataclass(frozen=True)
class Delivery:
    channels: tuple[str, ...]  # empty: undeliverable
    note: str | None = None  # why a requested channel was skipped or replaced (no personal data)


def choose_channels(
    requested: Sequence[str],
    *,
    has_email: bool,
    has_phone: bool,
    sms_consent: bool,
    email_marked: str | None = None,
    phone_marked: str | None = None,
) -> Delivery:
    """``email_marked`` / ``phone_marked``: why the address or number is not used any more (a
    permanent bounce, a complaint, a failed SMS delivery); the other channel takes over."""
    reasons: dict[str, str] = {}
    if not has_email:
        reasons[EMAIL] = "no email address"
    elif email_marked:
        reasons[EMAIL] = f"address marked {email_marked}"
    if not has_phone:
        reasons[SMS] = "no phone number"
    elif phone_marked:
        reasons[SMS] = f"number marked {phone_marked}"
    elif not sms_consent:
        reasons[SMS] = "no SMS consent"
    possible = [channel for channel in (EMAIL, SMS) if channel not in reasons]

    chosen = [channel for channel in dict.fromkeys(requested) if channel in possible]
    notes = [
        f"{channel} skipped: {reasons[channel]}" for channel in dict.fromkeys(requested) if channel in reasons
    ]
    if not chosen and possible:
        chosen = [possible[0]]
        notes.append(f"fallback to {possible[0]}")
    if not chosen:
        notes.append("undeliverable: no usable contact")
    return Delivery(channels=tuple(chosen), note="; ".join(notes) or None)
