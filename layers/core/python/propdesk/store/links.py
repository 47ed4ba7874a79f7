"""Short links (``/p/<code>`` -> a signed pay token) and the wrong-code counters, on the links
table. Both kinds of item carry a TTL (``expires``): DynamoDB deletes them some time after it
passes, so a read also checks it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from propdesk.store.conditions import written
from propdesk.store.models import LinkItem

CODE_PREFIX = "code#"
MISS_PREFIX = "miss#"


def link_item(link: Any) -> LinkItem:
    """The item of a short link drawn for a message (``short_links.Reserved``)."""
    return LinkItem(f"{CODE_PREFIX}{link.code}", token=link.token, expires=link.expires_at)


def store_link(item: LinkItem) -> bool:
    """One conditional PutItem: False when the code is taken already (nothing written)."""
    return written(lambda: item.save(condition=LinkItem.key.does_not_exist()))


class LinkRepository:
    def put(self, code: str, *, token: str, expires_at: datetime) -> bool:
        """One conditional PutItem: False when the code is taken already (nothing written)."""
        return store_link(LinkItem(f"{CODE_PREFIX}{code}", token=token, expires=expires_at))

    def token(self, code: str, *, now: datetime) -> str | None:
        """The token a code leads to; None for an unknown or expired code (not yet swept by TTL)."""
        try:
            item = LinkItem.get(f"{CODE_PREFIX}{code}", consistent_read=True)
        except LinkItem.DoesNotExist:
            return None
        if item.token is None or item.expires is None or _aware(item.expires) <= now:
            return None
        return item.token

    def misses(self, window: str, *, now: datetime) -> int:
        """Wrong codes counted in ``window`` (a client address and a minute) so far."""
        try:
            item = LinkItem.get(f"{MISS_PREFIX}{window}", consistent_read=True)
        except LinkItem.DoesNotExist:
            return 0
        if item.expires is not None and _aware(item.expires) <= now:
            return 0
        return int(item.misses or 0)

    def add_miss(self, window: str, *, expires_at: datetime) -> int:
        """Count one more wrong code in ``window`` (an atomic ADD); the count after it."""
        item = LinkItem(f"{MISS_PREFIX}{window}")
        item.update(actions=[LinkItem.misses.add(1), LinkItem.expires.set(expires_at)])
        return int(item.misses or 0)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
