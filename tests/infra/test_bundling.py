"""The dependency layer is built by pip for the Lambda platform, cached, and pinned like pyproject."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from infra import bundling
from infra.constructs.functions import PYTHON_VERSION

pytestmark = pytest.mark.xdist_group("infra")

REPO = Path(__file__).resolve().parents[2]


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
        assert match, f"not an exact pin: {line!r}"
        pins[match.group(1).lower() + (match.group(2) or "")] = match.group(3)
    return pins


def test_requirements_pin_the_same_versions_as_pyproject_less_what_lambda_provides():
    # GIVEN pyproject's runtime dependencies and the layer's requirements
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements = bundling.DEPS_REQUIREMENTS.read_text().splitlines()
    # THEN they pin the same packages (with the same extras) at the same versions, boto3 aside
    expected = {
        name: v
        for name, v in _pins(pyproject).items()
        if name.split("[")[0] not in bundling.PROVIDED_BY_RUNTIME
    }
    assert _pins(requirements) == expected


def test_pip_command_installs_wheels_for_the_lambda_platform_without_docker(tmp_path):
    command = bundling.pip_install_command(
        Path("layers/deps/requirements.txt"), tmp_path / "python", python_version=PYTHON_VERSION
    )
    assert command[1:4] == ["-m", "pip", "install"]
    joined = " ".join(command)
    assert f"-r layers/deps/requirements.txt -t {tmp_path / 'python'}" in joined
    assert "--platform manylinux2014_aarch64" in joined
    assert f"--python-version {PYTHON_VERSION}" in joined
    assert "--implementation cp" in joined
    assert "--only-binary=:all:" in command
    assert "docker" not in joined.lower()


class FakePip:
    """Stands in for subprocess.run: 'installs' a package and botocore into the -t folder."""

    def __init__(self, returncode: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, command, **_kwargs):
        self.calls.append(command)
        target = Path(command[command.index("-t") + 1])
        for name in ("pydantic", "botocore", "botocore-1.0.dist-info", "bin"):
            (target / name).mkdir(parents=True, exist_ok=True)
        (target / "pydantic" / "__init__.py").write_text("")
        return subprocess.CompletedProcess(command, self.returncode, stdout="", stderr="no matching wheel")


def test_layer_is_built_once_then_copied_from_the_cache(tmp_path, monkeypatch):
    # GIVEN a requirements file and an empty cache
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.14.3\n")
    pip = FakePip()
    monkeypatch.setattr(bundling.subprocess, "run", pip)
    bundler = bundling.DepsLayerBundler(
        python_version=PYTHON_VERSION, requirements=requirements, cache_dir=tmp_path / "cache"
    )
    # WHEN two synths bundle the layer
    assert bundler.try_bundle(str(tmp_path / "out1"), None) is True
    assert bundler.try_bundle(str(tmp_path / "out2"), None) is True
    # THEN pip ran once, and both outputs hold the packages under python/, without the runtime's botocore
    assert len(pip.calls) == 1
    for out in ("out1", "out2"):
        site = tmp_path / out / "python"
        assert (site / "pydantic" / "__init__.py").is_file()
        assert not (site / "botocore").exists()
        assert not list(site.glob("botocore-*"))
        assert not (site / "bin").exists()


def test_changed_requirements_rebuild_the_layer(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.14.3\n")
    pip = FakePip()
    monkeypatch.setattr(bundling.subprocess, "run", pip)
    bundling.build_deps_layer(requirements, python_version=PYTHON_VERSION, cache_dir=tmp_path / "cache")
    requirements.write_text("pydantic==2.14.4\n")
    bundling.build_deps_layer(requirements, python_version=PYTHON_VERSION, cache_dir=tmp_path / "cache")
    assert len(pip.calls) == 2


def test_failed_pip_stops_the_synth_with_its_message_and_caches_nothing(tmp_path, monkeypatch):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.14.3\n")
    monkeypatch.setattr(bundling.subprocess, "run", FakePip(returncode=1))
    with pytest.raises(RuntimeError, match="no matching wheel"):
        bundling.build_deps_layer(requirements, python_version=PYTHON_VERSION, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
