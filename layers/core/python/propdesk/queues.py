"""The one way work is put on a queue: ``QueueProducer(name).send(bodies)``.

Bodies are pydantic models (serialised as JSON) or plain JSON-able dicts, sent in batches of
ten. A batch entry SQS refuses raises ``NotQueued``, so the caller's retry sends it again;
every consumer is idempotent (deterministic ids, conditional writes), so a repeat is harmless.
The queue's URL comes from the function's settings (``<NAME>_QUEUE_URL``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Protocol

from pydantic import BaseModel

from propdesk import aws
from propdesk.settings import get_settings

SQS_BATCH = 10


class NotQueued(RuntimeError):
    """SQS refused some messages of a batch (they are retried by the caller's retry)."""


class Producer(Protocol):
    def send(self, bodies: Sequence[BaseModel | dict[str, Any]]) -> int: ...


def _body(body: BaseModel | dict[str, Any]) -> str:
    return body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body, separators=(",", ":"))


class QueueProducer:
    def __init__(self, queue: str, *, url: str | None = None) -> None:
        self.queue = queue
        self._url = url

    @property
    def url(self) -> str:
        return self._url or get_settings().queue_url(self.queue)

    def send(self, bodies: Iterable[BaseModel | dict[str, Any]]) -> int:
        """Queue every body; returns how many were queued."""
        url, sqs = None, None
        batch: list[dict[str, str]] = []
        sent = 0
        for body in bodies:
            batch.append({"Id": str(len(batch)), "MessageBody": _body(body)})
            if len(batch) == SQS_BATCH:
                url, sqs = url or self.url, sqs or aws.client("sqs")
                sent += self._flush(sqs, url, batch)
        if batch:
            sent += self._flush(sqs or aws.client("sqs"), url or self.url, batch)
        return sent

    def _flush(self, sqs: Any, url: str, batch: list[dict[str, str]]) -> int:
        response = sqs.send_message_batch(QueueUrl=url, Entries=batch)
        failed = response.get("Failed") or []
        if failed:
            raise NotQueued(f"{len(failed)} of {len(batch)} messages were not queued on {self.queue!r}")
        count = len(batch)
        batch.clear()
        return count


def batched(ids: Iterable[str], size: int) -> Iterator[tuple[str, ...]]:
    """``size`` ids at a time, the last batch shorter: the unit ids of one queue message."""
    source = iter(ids)
    while page := tuple(islice(source, size)):
        yield page
