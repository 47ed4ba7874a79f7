"""The Open Platform's error answers: ``code`` (the class), ``msg`` (its fixed text), ``sub_code``
and ``sub_msg`` (the detail).

- ``40002`` Invalid Arguments (``isv.*``): the gateway refused the request itself (missing or
  unknown app id, bad signature, bad public parameters). Alipay answers these unsigned, so the
  SDK raises ``AliPayException`` for them.
- ``40004`` Business Failed (``ACQ.*``, ``isp.bill_not_exist``): the request was the app's and
  was understood, and the business said no. Signed like a success; the SDK returns it.
- ``40006`` Insufficient Permissions: a method the app has not signed up for.
"""

from __future__ import annotations

from typing import Any

INVALID_ARGUMENTS = "40002"
BUSINESS_FAILED = "40004"
INSUFFICIENT_PERMISSIONS = "40006"
SUCCESS = "10000"

MESSAGES = {
    INVALID_ARGUMENTS: "Invalid Arguments",
    BUSINESS_FAILED: "Business Failed",
    INSUFFICIENT_PERMISSIONS: "Insufficient Permissions",
    SUCCESS: "Success",
}


class AlipayError(Exception):
    def __init__(self, code: str, sub_code: str, sub_msg: str, **extra: str) -> None:
        super().__init__(f"{sub_code}: {sub_msg}")
        self.code = code
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.extra = extra  # fields Alipay adds to some errors (a refund's out_trade_no, refund_fee)

    @property
    def signed(self) -> bool:
        """Whether Alipay signs this answer (business errors are; gateway errors are not)."""
        return self.code == BUSINESS_FAILED

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "msg": MESSAGES[self.code],
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
            **self.extra,
        }


def invalid(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError(INVALID_ARGUMENTS, sub_code, sub_msg)


def business(sub_code: str, sub_msg: str, **extra: str) -> AlipayError:
    return AlipayError(BUSINESS_FAILED, sub_code, sub_msg, **extra)
