"""Configuration: the versioned files shipped with the package (catalog, factors, thresholds,
alerts, index) and a Pemda's own overrides.

A site folder — `SPM_CONFIG_DIR`, else `$SPM_HOME/config` — may hold files of the same names. Each
overrides the packaged file key by key: mappings merge, any other value (a list, a number, a text)
replaces the packaged one. A key the packaged file does not have is an error naming the file and
the key, except inside the open mappings listed in OPEN (kab/kota codes, LOINC codes, owners),
whose keys are the Pemda's to choose; a value of another kind than the packaged one is an error too.
`spm config show` prints the effective values and where each came from.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from spm.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
SITE_ENV = "SPM_CONFIG_DIR"
FILES = ("katalog_layanan.yaml", "faktor_sasaran.yaml", "kualitas.yaml", "peringatan.yaml", "indeks_spm.yaml")
# Mappings whose keys a site chooses (dotted paths per file).
OPEN = {
    "faktor_sasaran.yaml": {"kab_kota"},
    "kualitas.yaml": {"kesehatan.batas_fisiologis"},
    "peringatan.yaml": {"pemilik", "bidang_pemilik"},
}


def site_config_dir() -> Path:
    env = os.environ.get(SITE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from spm.settings import spm_home

    return spm_home() / "config"


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} is missing") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None and path.parent != CONFIG_DIR:
        return {}  # an empty site file overrides nothing
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top")
    return data


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


Key = tuple[str, ...]


def dotted(key: Key) -> str:
    """A key path as people write it: a.b, with keys holding dots quoted (kab_kota."32.71")."""
    return ".".join(f'"{k}"' if "." in str(k) else str(k) for k in key)


def _merge(base: dict, override: dict, path: Path, name: str, prefix: Key, sources: dict[Key, str],
           open_here: bool = False) -> dict:
    out = dict(base)
    sources.pop(prefix, None)  # an empty packaged mapping filled by the site
    for key, value in override.items():
        here = (*prefix, str(key))
        if key not in base:
            if not open_here:
                known = ", ".join(sorted(map(str, base))) or "none"
                raise ConfigError(f"{path}: key {dotted(here)} is not a setting of {name} (known here: {known})")
            out[key] = value
            _mark(value, here, str(path), sources)
            continue
        default = base[key]
        if default is not None and value is not None and _kind(default) != _kind(value):
            raise ConfigError(f"{path}: key {dotted(here)} must be a {_kind(default)} like the packaged value, "
                              f"not a {_kind(value)}")
        if isinstance(default, dict) and isinstance(value, dict):
            child_open = ".".join(here) in OPEN.get(name, set())
            out[key] = _merge(default, value, path, name, here, sources, child_open)
        else:
            for k in [k for k in sources if k[:len(here)] == here]:
                del sources[k]
            out[key] = value
            _mark(value, here, str(path), sources)
    return out


def _mark(value: Any, key: Key, origin: str, sources: dict[Key, str]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _mark(v, (*key, str(k)), origin, sources)
    else:
        sources[key] = origin


def effective(name: str) -> tuple[dict[str, Any], dict[Key, str]]:
    """The effective configuration of one file and, per leaf key path, the file it came from."""
    packaged = CONFIG_DIR / name
    data = _read(packaged)
    sources: dict[Key, str] = {}
    _mark(data, (), str(packaged), sources)
    site = site_config_dir() / name
    if site.is_file():
        data = _merge(data, _read(site), site, name, (), sources)
    return data, sources


def value_at(data: dict[str, Any], key: Key) -> Any:
    for part in key:
        data = data[part] if part in data else data[int(part) if part.isdigit() else part]
    return data


def load_yaml(name: str) -> dict[str, Any]:
    return copy.deepcopy(effective(name)[0])


def check_site_config() -> list[Path]:
    """Load every site file (errors name file and key); the site files found. Unknown file names are
    errors too, so a misspelt file is not silently ignored."""
    folder = site_config_dir()
    found = sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
    for path in found:
        if path.name not in FILES:
            raise ConfigError(f"{path}: not a configuration file of this project (expected one of {', '.join(FILES)})")
        effective(path.name)
    return found
