"""WeChat Pay's error answer: an HTTP status and ``{"code": ..., "message": ..., "detail": ...}``."""

from __future__ import annotations

from typing import Any

# What answers a request: status, headers and body.
Response = tuple[int, dict[str, str], bytes]


class WeChatPayError(Exception):
    def __init__(self, status: int, code: str, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


def param_error(path: str, name: str, rule: str, issue: str, value: Any = None) -> WeChatPayError:
    """A ``PARAM_ERROR`` worded as WeChat Pay words a field that fails its rule, e.g.
    ``输入源“/body/amount/total”映射到值字段“总金额”数字规则校验失败，值低于最小值 1``."""
    location, _, _ = path.strip("/").partition("/")
    detail: dict[str, Any] = {"location": location}
    if value is not None:
        detail["value"] = value
    return WeChatPayError(
        400, "PARAM_ERROR", f"输入源“{path}”映射到值字段“{name}”{rule}规则校验失败，{issue}", detail=detail
    )


def required(path: str, name: str) -> WeChatPayError:
    location, _, _ = path.strip("/").partition("/")
    return WeChatPayError(
        400,
        "PARAM_ERROR",
        f"输入源“{path}”映射到字段“{name}”必填性规则校验失败，此字段为必填项",
        detail={"location": location},
    )
