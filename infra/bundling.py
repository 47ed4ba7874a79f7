"""Lambda assets built without Docker.

The dependency layer is built on the host with ``pip install --platform manylinux2014_aarch64
--only-binary=:all: --target``: pip picks the wheels built for the Lambda runtime's CPU and
Python version, whatever the machine running ``cdk synth`` is. The result is cached under
``build/deps-layer/<key>`` (key: requirements, Python version, platform), so a repeat synth
copies the folder instead of reinstalling.

Infra tests skip bundling altogether (context ``aws:cdk:bundling-stacks = []``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import DockerImage, ILocalBundling

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
CORE_LAYER_DIR = REPO_ROOT / "layers" / "core"
DEPS_LAYER_DIR = REPO_ROOT / "layers" / "deps"
DEPS_REQUIREMENTS = DEPS_LAYER_DIR / "requirements.txt"
BUILD_DIR = REPO_ROOT / "build"

PLATFORM = "manylinux2014_aarch64"  # matches the functions' arm64 architecture

# The Lambda Python runtime ships these (boto3 and its own botocore/s3transfer, a matching
# set); pynamodb pulls botocore in, and a copy in the layer would shadow the runtime's and
# could mismatch its boto3. So the built layer leaves them out.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")

# What the code asset (functions/) leaves out.
CODE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/tests", "**/test_*.py", "**/.pytest_cache"]


def pip_install_command(requirements: Path, target: Path, *, python_version: str) -> list[str]:
    """The pip command that installs the layer's packages for the Lambda runtime into ``target``."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "-r",
        str(requirements),
        "-t",
        str(target),
        "--platform",
        PLATFORM,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
    ]


def cache_key(requirements: Path, *, python_version: str) -> str:
    digest = hashlib.sha256()
    digest.update(requirements.read_bytes())
    digest.update(f"|{python_version}|{PLATFORM}|{','.join(PROVIDED_BY_RUNTIME)}".encode())
    return digest.hexdigest()[:16]


def _strip_runtime_packages(site: Path) -> None:
    for name in PROVIDED_BY_RUNTIME:
        for path in [site / name, *site.glob(f"{name}-*.dist-info")]:
            if path.exists():
                shutil.rmtree(path)
    for leftover in (site / "bin", site / "__pycache__"):
        if leftover.exists():
            shutil.rmtree(leftover)


def build_deps_layer(
    requirements: Path = DEPS_REQUIREMENTS, *, python_version: str, cache_dir: Path = BUILD_DIR / "deps-layer"
) -> Path:
    """Build (or reuse) the layer folder; returns the folder that holds ``python/``."""
    built = cache_dir / cache_key(requirements, python_version=python_version)
    if (built / "python").is_dir():
        return built
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=cache_dir))
    try:
        command = pip_install_command(requirements, staging / "python", python_version=python_version)
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(
                f"building the dependency layer failed (exit {result.returncode}): {' '.join(command)}\n"
                f"{result.stderr.strip()}"
            )
        _strip_runtime_packages(staging / "python")
        staging.rename(built)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return built


@jsii.implements(ILocalBundling)
class DepsLayerBundler:
    """CDK local bundling for the dependency layer: never falls back to Docker."""

    def __init__(
        self,
        *,
        python_version: str,
        requirements: Path = DEPS_REQUIREMENTS,
        cache_dir: Path = BUILD_DIR / "deps-layer",
    ) -> None:
        self.requirements = requirements
        self.python_version = python_version
        self.cache_dir = cache_dir

    def try_bundle(self, output_dir: str, _options: Any = None) -> bool:  # jsii passes BundlingOptions
        built = build_deps_layer(
            self.requirements, python_version=self.python_version, cache_dir=self.cache_dir
        )
        shutil.copytree(built / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True


# Required by CDK's BundlingOptions; never pulled, since the local bundler always succeeds or raises.
UNUSED_DOCKER_IMAGE = DockerImage.from_registry("unused-local-bundling-only")
