"""Each function declares exactly what its code requires (RELIABILITY 26).

The environment a function gets is computed from its spec in ``infra.manifest`` by
``infra.environment.function_environment`` (the stack and the local runtime share it); the
handler's ``HandlerSettings`` names the variables its code cannot work without. The two must
agree both ways: the computed environment satisfies the handler's settings (nothing the code
needs is left undeclared), and every declared table, queue, secret and the public URL parameter
is one the handler requires (so removing it fails at the first invocation, naming it).
"""

from __future__ import annotations

import importlib
import os

import pytest

from infra import manifest
from infra.environment import function_environment
from infra.local.resources import LocalResources
from propdesk import naming
from propdesk.settings import ConfigurationMissing, Settings, get_settings

PROPERTY = "demo"
RESOURCE_SUFFIXES = ("_TABLE", "_QUEUE_URL", "_SECRET_NAME")


def _queue_url(name: str) -> str:
    return f"https://sqs.ap-southeast-1.amazonaws.com/123456789012/{name}"


@pytest.fixture(scope="module")
def resources(demo_config) -> LocalResources:
    urls: dict[str, str] = {}
    for queue in manifest.QUEUES:
        urls[queue.name] = _queue_url(naming.queue_name(PROPERTY, queue.name))
        urls[f"{queue.name}-dlq"] = _queue_url(naming.dead_letter_queue_name(PROPERTY, queue.name))
    return LocalResources(
        property_id=PROPERTY, property_config_env=demo_config.to_env_json(), queue_urls=urls
    )


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _settings_variables() -> set[str]:
    """Every variable ``Settings`` reads."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add((alias if isinstance(alias, str) else name).upper())
    return names


def use_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Make ``env`` the process's settings environment, exactly: no other setting is left set."""
    stale = _settings_variables() | {name for name in os.environ if name.endswith(RESOURCE_SUFFIXES)}
    for name in stale - set(env):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def handler_settings(spec: manifest.FunctionSpec) -> type[Settings]:
    return importlib.import_module(f"{spec.name}.handler").HandlerSettings


def declared_variables(spec: manifest.FunctionSpec) -> list[str]:
    """The resource variables the spec declares: its tables, queues, secrets and public URL."""
    names = [naming.table_env(key) for key in spec.tables]
    names += [naming.queue_env(queue) for queue in spec.sends_to]
    names += [naming.secret_env(key) for key in spec.secrets]
    if spec.reads_public_url:
        names.append(naming.PUBLIC_URL_PARAMETER_ENV)
    return names


FUNCTIONS = {spec.name: spec for spec in manifest.FUNCTIONS}
DECLARED = [(spec.name, variable) for spec in manifest.FUNCTIONS for variable in declared_variables(spec)]


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_infrastructure_26_computed_environment_satisfies_the_handlers_settings(
    function, resources, monkeypatch
):
    # GIVEN the environment the stack and the local runtime compute from the function's spec
    spec = FUNCTIONS[function]
    env = function_environment(spec, resources)
    assert set(declared_variables(spec)) <= set(env)
    use_environment(monkeypatch, env)
    # WHEN the handler loads its settings, as at its first invocation
    settings = get_settings(handler_settings(spec))
    # THEN they validate, and name the property's resources the spec declared
    assert settings.property_config.property_id == PROPERTY
    for key in spec.tables:
        assert settings.table(key) == naming.table_name(PROPERTY, key)
    for queue in spec.sends_to:
        assert settings.queue_url(queue) == resources.queue_url(queue)
    for key in spec.secrets:
        assert settings.secret_name(key) == naming.secret_name(PROPERTY, key)
    if spec.reads_public_url:
        assert settings.public_url_parameter == naming.public_url_parameter_name(PROPERTY)


@pytest.mark.parametrize(("function", "variable"), DECLARED, ids=[f"{f}-{v}" for f, v in DECLARED])
def test_infrastructure_26_every_declared_resource_is_one_the_handler_requires(
    function, variable, resources, monkeypatch
):
    # GIVEN the function's computed environment without one of the resources its spec declares
    spec = FUNCTIONS[function]
    env = function_environment(spec, resources)
    del env[variable]
    use_environment(monkeypatch, env)
    # WHEN the handler loads its settings
    # THEN it fails at once, naming the missing variable
    with pytest.raises(ConfigurationMissing, match=rf"\b{variable}\b"):
        get_settings(handler_settings(spec))
