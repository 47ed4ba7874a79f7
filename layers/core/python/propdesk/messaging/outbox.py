"""Where services hand messages to the messenger: the messages queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from propdesk.messaging.requests import MessageRequest, enqueue_messages
from propdesk.settings import get_settings


class Outbox(Protocol):
    def send(self, requests: Sequence[MessageRequest]) -> int: ...


class QueueOutbox:
    """Puts requests on the messages queue (batches of ten); the messenger dedups by message id."""

    def __init__(self, queue_url: str | None = None) -> None:
        self._queue_url = queue_url

    def send(self, requests: Sequence[MessageRequest]) -> int:
        if not requests:
            return 0
        return enqueue_messages(requests, queue_url=self._queue_url or get_settings().messages_queue_url)
