"""The one way a conditional write says "the condition did not hold".

DynamoDB refuses a conditional write with ``ConditionalCheckFailedException``; for PropDesk that
is an answer, not an error (the item exists already, moved on, or is held by someone else).
``written`` turns it into ``False`` and lets every other failure through.
"""

from __future__ import annotations

from collections.abc import Callable

from pynamodb.exceptions import DeleteError, PutError, UpdateError

CONDITION_FAILED = "ConditionalCheckFailedException"


def written(write: Callable[[], object]) -> bool:
    """Run one conditional write: True when it was made, False when its condition failed."""
    try:
        write()
    except (PutError, UpdateError, DeleteError) as exc:
        if exc.cause_response_code == CONDITION_FAILED:
            return False
        raise
    return True
