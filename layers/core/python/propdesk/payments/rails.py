"""The rails a property offers: which adapter of the payment-provider port serves each (Stripe,
WeChat Pay, Alipay), which of them take our orders, and where their notifications come in."""

from __future__ import annotations

from propdesk import routes
from propdesk.config import PropertyConfig
from propdesk.payments.port import PaymentProvider
from propdesk.settings import Settings

ORDER_RAILS = ("wechat_pay", "alipay")
NOTIFY_ROUTES = {"wechat_pay": "wechatpay_notify", "alipay": "alipay_notify"}


class RailNotOffered(LookupError):
    """A rail the property does not offer (or one that takes no orders)."""


def provider(rail: str, settings: Settings) -> PaymentProvider:
    """The adapter for ``rail``, if the property offers it (for a new payment, a query, a day's
    statement)."""
    if rail not in settings.property_config.payment.rails:
        raise RailNotOffered(rail)
    return adapter(rail, settings)


def adapter(rail: str, settings: Settings) -> PaymentProvider:
    """The adapter for ``rail``, offered or not: a payment taken on a rail is refunded there, and
    its events verified, after the property stops offering it for new payments."""
    if rail == "stripe":
        from propdesk.payments.stripe_provider import StripeRail

        return StripeRail.from_settings(settings)
    if rail == "wechat_pay":
        from propdesk.payments.wechatpay import WeChatPayRail

        return WeChatPayRail.from_settings(settings)
    if rail == "alipay":
        from propdesk.payments.alipay import AlipayRail

        return AlipayRail.from_settings(settings)
    raise RailNotOffered(rail)


def order_rails(config: PropertyConfig) -> tuple[str, ...]:
    """The property's rails that take orders, in the order it lists them."""
    return tuple(rail for rail in config.payment.rails if rail in ORDER_RAILS)


def reconciled_rails(config: PropertyConfig) -> tuple[str, ...]:
    """The rails whose daily statements the reconciliation reads: every rail offered."""
    return tuple(config.payment.rails)


def notify_path(rail: str) -> str:
    return routes.route(NOTIFY_ROUTES[rail]).path
