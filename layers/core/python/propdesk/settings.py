"""Function settings, read once from the environment and validated at cold start.

The stack (``infra/stack.py``) and the local runtime (``infra/local``) set the same
variables, named in ``infra/manifest.py``. Tests call ``get_settings.cache_clear()``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from propdesk.config import PropertyConfig


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    property_config: PropertyConfig = Field(validation_alias="PROPERTY_CONFIG")
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
