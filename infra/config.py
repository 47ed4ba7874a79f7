"""Load and validate a property's configuration from ``infra/properties/<id>.yaml``."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from propdesk.config import PROPERTY_ID_RE, PropertyConfig

PROPERTIES_DIR = Path(__file__).resolve().parent / "properties"


class ConfigError(Exception):
    """A property configuration file is missing or invalid; the message names the file and field."""


def config_path(property_id: str, properties_dir: Path = PROPERTIES_DIR) -> Path:
    if not PROPERTY_ID_RE.match(property_id):
        raise ConfigError(f"invalid property id {property_id!r}: use lower-case letters, digits and '-'")
    return properties_dir / f"{property_id}.yaml"


def load_config_file(path: Path) -> PropertyConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such property configuration file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        config = PropertyConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(f"  {where}: {error['msg']}")
        raise ConfigError(f"{path}: invalid property configuration:\n" + "\n".join(problems)) from exc
    if path.stem != config.property_id:
        raise ConfigError(
            f"{path}: property_id {config.property_id!r} does not match the file name {path.stem!r}"
        )
    units = path.parent / config.units_source
    if not units.is_file():
        raise ConfigError(f"{path}: units_source: file not found: {units}")
    return config


def load_config(property_id: str, properties_dir: Path = PROPERTIES_DIR) -> PropertyConfig:
    return load_config_file(config_path(property_id, properties_dir))


def units_csv_path(config: PropertyConfig, properties_dir: Path = PROPERTIES_DIR) -> Path:
    return properties_dir / config.units_source
