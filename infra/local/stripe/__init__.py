"""A local stand-in for Stripe Checkout: the part of Stripe's REST API the product calls, a
hosted checkout page, and signed webhooks.

The real ``stripe`` SDK talks to it (the functions get ``STRIPE_API_BASE``). It serves
``POST /v1/checkout/sessions`` (form-encoded, nested keys as the SDK sends them),
``GET /v1/checkout/sessions/{id}``, ``GET /v1/checkout/sessions/{id}/line_items``,
``POST /v1/checkout/sessions/{id}/expire``, ``GET /v1/payment_intents/{id}``,
``POST /v1/refunds`` (then ``refund.created`` and ``charge.refunded`` events, sent after the
answer), ``GET /v1/refunds/{id}`` and ``GET /v1/charges/{id}``, with Stripe-shaped JSON errors.
``StripeStandIn.dispute`` plays an owner's bank disputing a payment (``charge.dispute.created``). ``GET /checkout/{id}`` is the checkout page; its Pay button
(``POST /checkout/{id}/pay``) completes the session, sends a ``checkout.session.completed``
event signed like Stripe (``Stripe-Signature: t=...,v1=...``) to the webhook URL, retries a
failed delivery a few times, and redirects the owner to the session's ``success_url``.

- ``resources``: Checkout Sessions, PaymentIntents, Charges, Refunds and Disputes, their rules and
  their store
- ``api``: ``/v1``: API key, idempotency keys, routes, JSON answers
- ``forms``: Stripe's nested form encoding
- ``checkout``: the checkout page (``templates/``) and its Pay button
- ``webhooks``: events, signatures, delivery with retries
- ``standin``: ``StripeStandIn``, which puts them together
"""

from infra.local.stripe.errors import StripeError
from infra.local.stripe.standin import StripeStandIn
from infra.local.stripe.webhooks import Delivery, sign_payload

__all__ = ["Delivery", "StripeError", "StripeStandIn", "sign_payload"]
