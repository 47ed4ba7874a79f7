"""Short links for SMS (F2): ``<base>/p/<code>`` in place of the 134-character pay link, so a
Chinese notice fits one segment.

- The code is 11 characters drawn by ``secrets`` from 62 letters and digits: about 65 bits, so
  guessing one that exists is hopeless (a few million live links still leave odds of one in
  10^12 per try), and wrong tries are limited per client address besides.
- It is stored server side, mapped to the signed pay token, with a TTL equal to the token's
  expiry: the short link lives exactly as long as the link it stands for.
- Making one is one conditional PutItem (the code must be new). A retried message makes a new
  code rather than finding the old one: finding it would take a second item keyed by message (a
  second write) or a guessable derivation. Every code made leads to the same token and expires
  with it, so an SMS that went out on an attempt the messenger thinks failed still works.
- Opening one redirects to ``/pay/<token>``. A wrong or expired code is answered as an expired pay
  link is (the same page, status and headers), and after ``MAX_MISSES`` wrong codes in a minute
  a client address gets 429 for the rest of that minute, whatever code it sends.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from propdesk.payments.links import InvalidPayLink, expiry_of, site_root, token_of
from propdesk.store.links import LinkRepository

logger = Logger(child=True)

ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 11  # 62**11 ~ 2**65.5
CODE_PATTERN = re.compile(rf"^[{re.escape(ALPHABET)}]{{{CODE_LENGTH}}}$")
SHORT_PATH = "/p/"
MAX_MISSES = 10  # wrong codes per client address per minute
WINDOW = timedelta(minutes=1)
PUT_ATTEMPTS = 3  # a taken code (odds ~2**-65) is drawn again


@dataclass(frozen=True)
class Reserved:
    """A short link drawn for a message, to be stored before the SMS carrying it is sent."""

    code: str
    token: str
    expires_at: datetime


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


class ShortLinks:
    """Makes and opens short links; ``links`` and ``new_code`` are for tests to replace."""

    def __init__(
        self, *, links: LinkRepository | None = None, new_code: Callable[[], str] = new_code
    ) -> None:
        self._links = links or LinkRepository()
        self._new_code = new_code

    def reserve(self, page_url: str) -> tuple[str, Reserved | None]:
        """``<base>/p/<code>`` for an owner's page URL with the code drawn but not yet stored:
        the caller writes it (``LinkRepository.put``, or inside another write) before the text
        carrying it goes out. None reserved: not a pay link we signed, sent as it is."""
        try:
            root, token = site_root(page_url), token_of(page_url)
            expires_at = expiry_of(token)
        except (InvalidPayLink, ValueError):
            logger.warning("not a pay link, not shortened")
            return page_url, None
        code = self._new_code()
        return f"{root}{SHORT_PATH}{code}", Reserved(code, token, expires_at)

    def shorten(self, page_url: str) -> str:
        """``<base>/p/<code>`` for an owner's page URL (``<base>/pay/<token>``): a new code mapped
        to its token until the token expires, stored now."""
        for _ in range(PUT_ATTEMPTS):
            short, reserved = self.reserve(page_url)
            if reserved is None or self._links.put(
                reserved.code, token=reserved.token, expires_at=reserved.expires_at
            ):
                return short
        raise RuntimeError("no free short-link code found")  # the message is retried

    def open(self, code: str, *, client: str, now: datetime) -> Opened:
        """Where a code leads: its token, nothing (a wrong or expired code, counted against the
        client), or a wait (too many wrong codes from this client this minute)."""
        window_start = now.replace(second=0, microsecond=0)
        window = f"{client}#{window_start:%Y%m%d%H%M}"
        retry_after = max(1, int((window_start + WINDOW - now).total_seconds()))
        if self._links.misses(window, now=now) >= MAX_MISSES:
            return Opened(retry_after=retry_after)
        token = self._links.token(code, now=now) if CODE_PATTERN.match(code) else None
        if token is None:
            misses = self._links.add_miss(window, expires_at=window_start + 2 * WINDOW)
            logger.info("short link not found", misses=misses)  # no code, no address: nothing personal
        return Opened(token=token)


@dataclass(frozen=True)
class Opened:
    token: str | None = None  # where to go; None: the expired-link answer
    retry_after: int | None = None  # set: too many wrong codes, wait this many seconds
