"""The names of a property's resources and of the environment variables that carry them.

One module, read by the CDK stack, the local runtime and the functions, so a table, queue,
secret or Powertools name is spelled in one place. Resource names are fixed per property
(``propdesk-<property>-<thing>``): an administrator recognises them, and a change that would
replace a retained table fails instead of creating an empty one.
"""

from __future__ import annotations

PROPERTY_CONFIG_ENV = "PROPERTY_CONFIG"
PUBLIC_URL_PARAMETER_ENV = "PUBLIC_URL_PARAMETER"
DOCUMENTS_BUCKET_ENV = "DOCUMENTS_BUCKET"
MANDATES_KEY_ENV = "MANDATES_KEY"
SES_CONFIGURATION_SET_ENV = "SES_CONFIGURATION_SET"
SERVICE_NAME_ENV = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"


# The queues, by the names the manifest gives them (a service puts work on one by its name).
NOTICES_QUEUE = "notices"
MESSAGES_QUEUE = "messages"
TICKETS_QUEUE = "tickets"


def prefix(property_id: str) -> str:
    return f"propdesk-{property_id}"


def table_name(property_id: str, key: str) -> str:
    return f"{prefix(property_id)}-{key}"


def queue_name(property_id: str, name: str) -> str:
    return f"{prefix(property_id)}-{name}"


def dead_letter_queue_name(property_id: str, name: str) -> str:
    return f"{queue_name(property_id, name)}-dlq"


def function_name(property_id: str, function: str) -> str:
    return f"{prefix(property_id)}-{function}"


def ses_configuration_set(property_id: str) -> str:
    """The SES configuration set owner e-mail goes through: it publishes bounces and complaints."""
    return f"{prefix(property_id)}-owner-mail"


def mandates_key_alias(property_id: str) -> str:
    """The KMS key that encrypts owners' bank account numbers (direct-debit mandates)."""
    return f"alias/{prefix(property_id)}-mandates"


def documents_bucket_name(property_id: str) -> str:
    """The local runtime's bucket; the stack lets CloudFormation name the real one (globally unique)."""
    return f"{prefix(property_id)}-documents"


def secret_name(property_id: str, key: str) -> str:
    return f"propdesk/{property_id}/{key}"


def public_url_parameter_name(property_id: str) -> str:
    return f"/propdesk/{property_id}/public-url"


def service_name(function: str) -> str:
    """Powertools' service name: the function's own, so each function logs and counts under it."""
    return function


def metrics_namespace(property_id: str) -> str:
    return f"PropDesk/{property_id}"


# Environment variables that carry the names to the functions.
def table_env(key: str) -> str:
    return f"{key.upper()}_TABLE"


def queue_env(name: str) -> str:
    return f"{name.upper()}_QUEUE_URL"


def secret_env(key: str) -> str:
    return f"{key.upper()}_SECRET_NAME"
