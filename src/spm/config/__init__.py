"""Versioned configuration files shipped with the package (catalog, factors, thresholds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from spm.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent


def load_yaml(name: str) -> dict[str, Any]:
    path = CONFIG_DIR / name
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} is missing") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top")
    return data
