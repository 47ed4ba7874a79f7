"""Function settings, read once from the environment and validated at cold start.

The environment is computed from each function's spec in ``infra/manifest.py`` by one function
(``infra.environment.function_environment``), for the stack and the local runtime alike, with
the variable names of ``propdesk.naming``: a function sees only the resources it declared.

``Settings`` holds every setting any function may have. Each handler declares the ones it
cannot work without in a subclass whose fields are required, and loads it first thing::

    class HandlerSettings(Settings):
        messages_queue_url: str
        ledger_table: str

    load_at_cold_start(HandlerSettings)  # in Lambda: a missing variable fails the INIT phase

    def lambda_handler(event, context):
        get_settings(HandlerSettings)   # (cached) and everywhere else, at the first invocation

Services read ``get_settings()``. Tests call ``get_settings.cache_clear()``.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from propdesk import naming
from propdesk.config import PropertyConfig

# Lambda allows 4 KB of environment variables per function, and a property's configuration
# alone can take most of it; the stack stores PROPERTY_CONFIG compressed, with this prefix.
COMPRESSED_PREFIX = "zlib+b64:"


class ConfigurationMissing(RuntimeError):
    """A function was deployed without a setting it needs (a stack bug, not bad input)."""


def compress_env_value(text: str) -> str:
    return COMPRESSED_PREFIX + base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def expand_env_value(value: str) -> str:
    """Plain JSON (the local runtime, tests) or the stack's compressed form."""
    if value.startswith(COMPRESSED_PREFIX):
        return zlib.decompress(base64.b64decode(value.removeprefix(COMPRESSED_PREFIX))).decode("utf-8")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    property_config: Annotated[PropertyConfig, NoDecode] = Field(validation_alias=naming.PROPERTY_CONFIG_ENV)

    # Tables (naming.table_env): the models read these names; listed here so a handler can require them.
    owners_table: str | None = None
    units_table: str | None = None
    bills_table: str | None = None
    payments_table: str | None = None
    accounts_table: str | None = None
    counters_table: str | None = None
    messages_table: str | None = None
    ledger_table: str | None = None
    tickets_table: str | None = None
    refunds_table: str | None = None
    visits_table: str | None = None
    orders_table: str | None = None
    statements_table: str | None = None
    mandates_table: str | None = None
    cycles_table: str | None = None
    links_table: str | None = None
    standards_table: str | None = None
    idempotency_table: str | None = None
    # Queues (naming.queue_env).
    notices_queue_url: str | None = None
    messages_queue_url: str | None = None
    tickets_queue_url: str | None = None
    # Secrets (naming.secret_env).
    stripe_secret_name: str | None = None
    link_key_secret_name: str | None = None
    wechatpay_secret_name: str | None = None
    alipay_secret_name: str | None = None
    # SSM parameter holding the public base URL of the API (owners' links point there).
    public_url_parameter: str | None = None
    documents_bucket: str | None = None
    # The SES configuration set owner e-mail is sent through (its events mark bounced addresses).
    ses_configuration_set: str | None = None
    mandates_key: str | None = None  # the KMS key (alias) of direct-debit mandates
    # Only set by the local runtime: where the Stripe SDK sends its API calls.
    stripe_api_base: str | None = None
    # Only set by the local runtime: the WeChat Pay and Alipay stand-ins' gateways.
    wechatpay_api_base: str | None = None
    alipay_gateway: str | None = None
    # How long secrets and parameters are cached in a warm function, seconds.
    parameters_max_age: int = 300

    @field_validator("property_config", mode="before")
    @classmethod
    def _expand_property_config(cls, value: Any) -> Any:
        return json.loads(expand_env_value(value)) if isinstance(value, str) else value

    def queue_url(self, name: str) -> str:
        return self._named(f"{name}_queue_url", naming.queue_env(name), f"queue {name!r}")

    def secret_name(self, key: str) -> str:
        return self._named(f"{key}_secret_name", naming.secret_env(key), f"secret {key!r}")

    def table(self, key: str) -> str:
        return self._named(f"{key}_table", naming.table_env(key), f"table {key!r}")

    def _named(self, field: str, env: str, what: str) -> str:
        value = getattr(self, field, None)
        if not value:
            raise ConfigurationMissing(f"{what} is not declared for this function ({env} is not set)")
        return str(value)


S = TypeVar("S", bound=Settings)


@cache
def get_settings(cls: type[S] = Settings) -> S:  # type: ignore[assignment]
    """The settings, validated once per warm instance; ``cls`` is a handler's own subclass."""
    try:
        return cls()  # type: ignore[call-arg]
    except ValidationError as exc:
        missing = sorted(
            str(error["loc"][0]).upper()
            for error in exc.errors()
            if error["type"] == "missing" and error["loc"]
        )
        if missing:
            raise ConfigurationMissing(
                f"{cls.__name__}: environment variables missing: {', '.join(missing)}"
            ) from None
        raise


def load_at_cold_start(cls: type[Settings]) -> None:
    """Validate a handler's settings while its module loads, when it loads as a Lambda function
    (Lambda, and the local runtime's function processes, set ``AWS_LAMBDA_FUNCTION_NAME``): a
    function deployed without a setting then fails its cold start, before it takes a request.
    Tests that import a handler without its environment are not affected."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        get_settings(cls)
