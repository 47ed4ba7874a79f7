"""A local stand-in for the Alipay Open Platform (开放平台) gateway, spoken to by the real
``python-alipay-sdk`` (``from alipay import AliPay``).

Where the product points the SDK at it - one place: the SDK keeps its gateway URL in the
attribute ``AliPay._gateway`` (``https://openapi.alipay.com/gateway.do``, or the sandbox's with
``debug=True``); every API call is ``GET <_gateway>?<signed query>`` and a page/WAP pay URL is
``<_gateway>?<signed order string>``. The product sets ``client._gateway`` from its
``ALIPAY_GATEWAY`` setting (only the local runtime sets it: ``AlipayStandIn.gateway_url``, i.e.
``<base_url>/gateway.do``) right after building the client, and nowhere else. The client takes
``alipay_public_key_string=standin.alipay_public_key_pem``; the stand-in is given the app's
public key (``generate_app_keys()`` makes a pair for tests and the runtime).

Served:

- ``GET|POST /gateway.do``: public parameters and the RSA2 signature checked (40002
  ``isv.invalid-signature``, ``isv.invalid-app-id``, ...), then ``alipay.trade.page.pay`` /
  ``alipay.trade.wap.pay`` (a redirect to the cashier; Alipay's error page if refused),
  ``alipay.trade.query``, ``alipay.trade.close``, ``alipay.trade.refund``,
  ``alipay.trade.fastpay.refund.query`` and ``alipay.data.dataservice.bill.downloadurl.query``
  (signed JSON answers);
- ``GET /cashier/{id}`` and its Pay button ``POST /cashier/{id}/pay`` (then a redirect to
  ``return_url`` with the signed sync-return parameters);
- the async notifications to ``notify_url``: form POSTs signed with Alipay's key, resent on
  Alipay's schedule (scaled by ``retry_scale``) until answered exactly ``success``;
- ``GET /downloadBillFile.resource?...``: the statement ZIP (GBK CSV), for 30 seconds;
- ``POST /_standin/pay`` (``{"out_trade_no"}`` of an opened trade, or ``{"url"}`` of a pay URL):
  the Pay button without a browser; ``GET /_standin/deliveries``, ``/_standin/trades``,
  ``/_standin/keys``.

- ``keys``: RSA2 signing and the strings each direction signs; ``generate_app_keys``
- ``errors``: Alipay's error answers (``code``/``msg``/``sub_code``/``sub_msg``)
- ``trades``: trades and refunds, their rules and their store
- ``gateway``: ``/gateway.do``: parameters, signature, methods, signed JSON answers
- ``cashier``: the cashier page, the sync return, the error page (``templates/``)
- ``notify``: async notifications, delivery and resends
- ``bills``: the statement and its download link
- ``standin``: ``AlipayStandIn``, which puts them together
"""

from infra.local.alipay.errors import AlipayError
from infra.local.alipay.keys import AppKeys, KeyPair, generate_app_keys
from infra.local.alipay.notify import ALIPAY_RETRY_SCHEDULE_S, Delivery
from infra.local.alipay.standin import AlipayStandIn, PayResult
from infra.local.alipay.trades import Buyer

__all__ = [
    "ALIPAY_RETRY_SCHEDULE_S",
    "AlipayError",
    "AlipayStandIn",
    "AppKeys",
    "Buyer",
    "Delivery",
    "KeyPair",
    "PayResult",
    "generate_app_keys",
]
