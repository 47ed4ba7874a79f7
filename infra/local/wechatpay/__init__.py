"""A local stand-in for WeChat Pay API v3 (商户平台, direct merchant): the part of the API the
product calls, pay pages for the payer, and signed, encrypted notifications.

The real ``wechatpayv3`` SDK talks to it. The SDK holds its gateway in one attribute,
``WeChatPay._core._gate_way`` (``'https://api.mch.weixin.qq.com'`` in wechatpayv3 2.0.4's
``core.py``); that attribute, set from the product's ``WECHATPAY_API_BASE`` setting (which only
the local runtime sets, to ``WeChatPayStandIn.serve()``'s base URL), is the one place the product
points the SDK here. Public-key mode (``WeChatPay(..., public_key=standin.public_key_pem,
public_key_id=standin.public_key_id)``) needs nothing else. Certificate mode downloads the platform
certificates while the client is constructed, before the gateway can be changed: give it a
``cert_dir`` holding ``standin.certificate_pem`` (named ``<certificate_serial>.pem``); once the
gateway is set, ``GET /v3/certificates`` here serves the same certificate.

Protocol (https://pay.weixin.qq.com/doc/v3/merchant/):
- Requests must carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."``, SHA256withRSA with the merchant's key over
  ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``; a bad signature, a wrong serial number
  or a timestamp more than 5 minutes off: 401 ``SIGN_ERROR``.
- Every answer (errors too) is signed with the platform key: ``Wechatpay-Signature``,
  ``-Timestamp``, ``-Nonce``, ``-Serial``, ``-Signature-Type`` over ``TIMESTAMP\\nNONCE\\nBODY\\n``.
  A request whose ``Wechatpay-Serial`` is the public key id gets an answer signed with the public
  key, any other one with the platform certificate (as on the real platform); bill files are not
  signed.
- ``POST /v3/pay/transactions/native`` (``code_url``) and ``/h5`` (``h5_url``, leading to this
  stand-in's pay page): the same ``out_trade_no`` with the same parameters gives the same order;
  with others ``400 INVALID_REQUEST`` (201 商户订单号重复); a paid or closed one ``400 ORDERPAID`` /
  ``ORDER_CLOSED``. ``GET /v3/pay/transactions/out-trade-no/{no}?mchid=`` and ``/id/{id}?mchid=``
  (``404 ORDER_NOT_EXIST``); ``POST .../out-trade-no/{no}/close`` (204; ``400 ORDERPAID``). An
  order past its ``time_expire`` stays NOTPAY until closed, and cannot be paid.
- ``POST /v3/refund/domestic/refunds`` (PROCESSING, then SUCCESS and a REFUND.SUCCESS
  notification; more than is left to refund: ``400 INVALID_REQUEST`` 申请退款金额超过订单可退金额,
  as WeChat Pay answers it; ``403 NOT_ENOUGH`` is the merchant's balance being short, a test hook)
  and ``GET /v3/refund/domestic/refunds/{out_refund_no}``.
- ``GET /v3/bill/tradebill?bill_date=&bill_type=&tar_type=`` (a past day in Beijing time; the
  day's file is the CSV in WeChat Pay's layout, SHA1 of the unzipped file) and
  ``GET /v3/billdownload/file?token=`` (signed request, unsigned answer, gzip if asked).
- Paying: ``POST /_standin/scan`` ``{"code_url": ...}`` (or ``{"out_trade_no": ...}``), or the
  pages ``GET /h5/{prepay_id}`` (``&redirect_url=`` honoured) and ``GET /native/{pr}``, each with
  a Pay button. Paying sends TRANSACTION.SUCCESS (resource encrypted with AEAD_AES_256_GCM under
  the APIv3 key) to the order's ``notify_url``; 200/204 is success, anything else is retried on
  WeChat Pay's schedule (15s, 15s, 30s, 3m, 10m, ...) scaled by ``retry_scale``.
  ``GET /_standin/deliveries`` lists every notification and its attempts.

- ``keys``: the merchant's and the platform's keys, signatures, AEAD
- ``orders``: orders and refunds, their rules, their store, their JSON
- ``api``: ``/v3``: request signatures, routes, signed answers
- ``bills``: the trade statement CSV
- ``notifications``: notifications, their delivery and retries
- ``paypages``: the payer's pages (``templates/``)
- ``standin``: ``WeChatPayStandIn``, which puts them together
"""

from infra.local.wechatpay.errors import WeChatPayError
from infra.local.wechatpay.keys import MerchantKeys, PlatformKeys, merchant_keys
from infra.local.wechatpay.notifications import RETRY_SCHEDULE_S, Delivery
from infra.local.wechatpay.standin import WeChatPayStandIn

__all__ = [
    "RETRY_SCHEDULE_S",
    "Delivery",
    "MerchantKeys",
    "PlatformKeys",
    "WeChatPayError",
    "WeChatPayStandIn",
    "merchant_keys",
]
