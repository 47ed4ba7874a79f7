"""Stripe's error answer: ``{"error": {"type": ..., "message": ..., "code": ..., "param": ...}}``."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    def __init__(
        self, message: str, *, status: int = 400, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param
        self.type = "invalid_request_error"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": str(self)}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}
