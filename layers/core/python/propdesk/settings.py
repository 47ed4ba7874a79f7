"""Function settings, read once from the environment and validated at cold start.

The stack (``infra/stack.py``) and the local runtime (``infra/local``) set the same
variables, named in ``infra/manifest.py``. Tests call ``get_settings.cache_clear()``.
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from propdesk.config import PropertyConfig

# Lambda allows 4 KB of environment variables per function, and a property's configuration
# alone can take most of it; the stack stores PROPERTY_CONFIG compressed, with this prefix.
COMPRESSED_PREFIX = "zlib+b64:"


def compress_env_value(text: str) -> str:
    return COMPRESSED_PREFIX + base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def expand_env_value(value: str) -> str:
    """Plain JSON (the local runtime, tests) or the stack's compressed form."""
    if value.startswith(COMPRESSED_PREFIX):
        return zlib.decompress(base64.b64decode(value.removeprefix(COMPRESSED_PREFIX))).decode("utf-8")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    property_config: Annotated[PropertyConfig, NoDecode] = Field(validation_alias="PROPERTY_CONFIG")
    notices_queue_url: str | None = None
    messages_queue_url: str | None = None
    tickets_queue_url: str | None = None
    documents_bucket: str | None = None
    stripe_secret_name: str | None = None
    link_key_secret_name: str | None = None
    # SSM parameter holding the public base URL of the API (owners' links point there).
    public_url_parameter: str | None = None
    # Only set by the local runtime: where the Stripe SDK sends its API calls.
    stripe_api_base: str | None = None
    # How long secrets and parameters are cached in a warm function, seconds.
    parameters_max_age: int = 300

    @field_validator("property_config", mode="before")
    @classmethod
    def _expand_property_config(cls, value: Any) -> Any:
        return json.loads(expand_env_value(value)) if isinstance(value, str) else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
