"""Each handler imports only what Lambda will have: the standard library, the code asset, the core
layer, the dependency layer's packages (with what they need) and the runtime's boto3.

The local runtime runs the functions with the development environment's interpreter, where the
repository root, moto, time-machine and the test tools are importable too; a handler that
imported one of them would work locally and fail in Lambda. This test imports each handler in a
fresh, isolated interpreter that sees only ``functions/`` and ``layers/core/python`` besides the
installed packages, and names every third-party module it loaded that the layer would not hold.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from infra import manifest
from infra.bundling import DEPS_REQUIREMENTS, PROVIDED_BY_RUNTIME, REPO_ROOT

pytestmark = pytest.mark.xdist_group("infra")

_NAME = re.compile(r"[-_.]+")
# Imported when present, and done without in Lambda, where they are not.
OPTIONAL = {"blinker": "pynamodb.signals uses it if it is installed, and dummy signals otherwise"}


def _canonical(name: str) -> str:
    return _NAME.sub("-", name).lower()


def _closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution the requirements pull in (markers evaluated for this interpreter)."""
    seen: set[str] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = _canonical(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        extras = requirement.extras or {""}
        for text in metadata.requires(requirement.name) or []:
            dependency = Requirement(text)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                pending.append(dependency)
    return seen


def layer_modules() -> set[str]:
    """Top-level modules the dependency layer and the Lambda runtime provide."""
    lines = [line.split("#")[0].strip() for line in DEPS_REQUIREMENTS.read_text().splitlines()]
    requirements = [Requirement(line) for line in lines if line]
    requirements += [Requirement(name) for name in PROVIDED_BY_RUNTIME]
    distributions = _closure(requirements)
    return {
        module
        for module, owners in metadata.packages_distributions().items()
        if any(_canonical(owner) in distributions for owner in owners)
    }


_PROBE = """
import json, sys
sys.path[:0] = {paths!r}
import {module}
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def imported_by(module: str) -> set[str]:
    paths = [str(REPO_ROOT / "functions"), str(REPO_ROOT / "layers" / "core" / "python")]
    result = subprocess.run(
        [sys.executable, "-I", "-c", _PROBE.format(paths=paths, module=module)],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _own_modules() -> set[str]:
    return {
        path.name
        for folder in (REPO_ROOT / "functions", REPO_ROOT / "layers" / "core" / "python")
        for path in folder.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_"))
    }


@pytest.mark.parametrize("spec", manifest.FUNCTIONS, ids=lambda s: s.name)
def test_infrastructure_26_a_handler_imports_only_what_lambda_will_have(spec):
    # GIVEN what Lambda gives a function: the standard library, our code, the layers
    # (cython_runtime: the module a Cython-built extension, such as PyYAML's, registers)
    allowed = set(sys.stdlib_module_names) | layer_modules() | _own_modules() | {"__main__", "cython_runtime"}
    allowed |= set(OPTIONAL)
    # WHEN its handler module is imported in an isolated interpreter
    loaded = imported_by(spec.handler.rpartition(".")[0])
    # THEN nothing else was loaded (no infra, tests, moto, time-machine, schemathesis...)
    foreign = sorted(name for name in loaded - allowed if not name.startswith("_"))
    assert foreign == [], f"{spec.name} imports what its Lambda will not have: {foreign}"


def test_the_probe_would_see_a_development_only_import():
    # The check can fail: moto is installed here, but the layer does not have it.
    assert "moto" not in layer_modules()
    assert "moto" in imported_by("moto")
    assert {"infra", "tests"}.isdisjoint(layer_modules() | _own_modules())
