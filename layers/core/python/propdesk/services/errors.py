"""The one error a staff use case raises when it cannot do what was asked.

Its own module so every service can raise it without importing another service (the desk,
the payment queue and refunds all build on ``services.payments``).
"""

from __future__ import annotations


class DeskError(Exception):
    """A staff request that cannot be done as asked: an HTTP status, a code and a sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
