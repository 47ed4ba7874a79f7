"""A function's environment, computed from its spec: the one computation the stack and the
local runtime share, so a function sees only what it declared, deployed or local.

What differs between the two is where a resource's name comes from (CloudFormation tokens in
the stack, real names or URLs locally): a ``Resources`` object answers that.
"""

from __future__ import annotations

from typing import Protocol

from infra.manifest import FunctionSpec
from propdesk import naming


class Resources(Protocol):
    """Where the property's resources are, as the environment should carry them."""

    property_id: str
    property_config_env: str  # the validated config, as the functions read it

    def table_name(self, key: str) -> str: ...

    def queue_url(self, name: str) -> str: ...

    def documents_bucket(self) -> str: ...


def function_environment(spec: FunctionSpec, resources: Resources) -> dict[str, str]:
    """Every variable the function gets: its config and Powertools names, and exactly the tables,
    queues, secrets, parameter and bucket its spec declares."""
    pid = resources.property_id
    env = {
        naming.PROPERTY_CONFIG_ENV: resources.property_config_env,
        naming.SERVICE_NAME_ENV: naming.service_name(spec.name),
        naming.METRICS_NAMESPACE_ENV: naming.metrics_namespace(pid),
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    for key in spec.tables:
        env[naming.table_env(key)] = resources.table_name(key)
    for name in spec.sends_to:
        env[naming.queue_env(name)] = resources.queue_url(name)
    for key in spec.secrets:
        env[naming.secret_env(key)] = naming.secret_name(pid, key)
    if spec.reads_public_url:
        env[naming.PUBLIC_URL_PARAMETER_ENV] = naming.public_url_parameter_name(pid)
    if spec.documents:
        env[naming.DOCUMENTS_BUCKET_ENV] = resources.documents_bucket()
    if spec.mandates_key:
        env[naming.MANDATES_KEY_ENV] = naming.mandates_key_alias(pid)
    if spec.sends_email:
        env[naming.SES_CONFIGURATION_SET_ENV] = naming.ses_configuration_set(pid)
    return env
