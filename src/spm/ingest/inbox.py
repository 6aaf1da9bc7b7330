"""The one inbox routine of the file-fed sources (Dukcapil files, OPD workbooks; DESIGN §3.2, §3.4).

Every file dropped in a source's inbox folder is taken once, in drop order: refused unread when it
is over the size limit, else loaded by the source's own `load` (parse → stage → validate → publish on
the write-audit-publish steps of `spm.ingest.wap`); then moved to `processed/` (published or
unchanged) or to `rejected/` beside its `.errors.txt` (written by the source, in its owner's
words), and recorded in `inbox_file` by content hash. A file that breaks the loader in any other way
is refused alone (`load_or_refuse`), so one bad file never blocks the files after it; an error of
the deployment (configuration, a lost warehouse connection) leaves the file in place and fails the
task, to be retried.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError
from spm.ingest.wap import TRANSIENT_ERRORS
from spm.warehouse.audit import now
from spm.warehouse.status import SETTLED, BatchStatus
from spm.warehouse.tables import inbox_file

log = logging.getLogger(__name__)

IGNORED_PREFIXES = ("~$", ".")  # Excel's lock files and hidden files, never a submission
# Errors of the deployment, not of a file: the file stays in its inbox and the task fails (retried).
DEPLOYMENT_ERRORS = (ConfigError, *TRANSIENT_ERRORS)


def inbox_files(inbox: Path) -> list[Path]:
    """The files waiting in `inbox`, in drop order (a corrected file dropped later is loaded later)."""
    files = [p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(IGNORED_PREFIXES)]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def inbox_limit_bytes() -> int:
    """kualitas.yaml inbox.ukuran_maks_mb: the largest inbox file read at all."""
    value = (load_yaml("kualitas.yaml").get("inbox") or {}).get("ukuran_maks_mb")
    try:
        mb = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"kualitas.yaml: inbox.ukuran_maks_mb {value!r} is not a number of megabytes") from None
    if mb <= 0:
        raise ConfigError(f"kualitas.yaml: inbox.ukuran_maks_mb {mb} must be above 0")
    return int(mb * 1024 * 1024)


def oversize(path: Path) -> str | None:
    """Why an inbox file is too large to be read, or None. Checked before a byte of it is read, so a
    file far larger than any kab/kota's data (a whole province, a dump) cannot exhaust the worker."""
    size, limit = path.stat().st_size, inbox_limit_bytes()
    if size <= limit:
        return None
    return (f"{path.name}: berkas {size / 1024 / 1024:.3g} MB, lebih besar dari batas {limit / 1024 / 1024:.3g} MB "
            "(kualitas.yaml inbox.ukuran_maks_mb); tidak dibaca. Kirim satu berkas per kab/kota dan periode")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refused(file_name: str, message: str) -> dict[str, Any]:
    """The result of a file refused before any batch started (its owner is alerted by file name)."""
    return {"file": file_name, "status": BatchStatus.REJECTED, "message": message, "problems": [message],
            "warnings": []}


def load_or_refuse(file_name: str, load: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
    """Load one inbox file with `load`. Anything but a deployment error that stops it refuses this file
    alone (status `rejected`, the error named, no batch: the alert for a refused file goes to its
    owner by name), so one bad file never blocks the files after it, night after night."""
    try:
        return load()
    except DEPLOYMENT_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the file did, it must not stay in the inbox
        log.warning("inbox file %s could not be loaded: %s", file_name, type(exc).__name__)
        return refused(file_name, f"{file_name}: tidak dapat dimuat ({type(exc).__name__}: {exc})"[:2000])


def move_aside(path: Path, folder: Path) -> Path:
    """Move a taken file into `folder`; a resubmission under the same name keeps the earlier copy too."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}__{now():%Y%m%dT%H%M%S%f}{path.suffix}"
    shutil.move(str(path), target)
    return target


def take_inbox(engine: sa.Engine, inbox: Path, source: str,
               load: Callable[[Path, bytes], dict[str, Any] | None],
               write_errors: Callable[[Path, str, dict[str, Any]], Any],
               skip_loaded: bool = False) -> list[dict[str, Any]]:
    """Take every file waiting in `inbox` for `source` (see the module's docstring).

    `load(path, content)` loads one file and returns its result (`status`, `message`, and where a
    batch was made `batch_id`, `entity`, `kode_kab_kota`, `periode`), or None to leave the file for
    another run. `write_errors(rejected_dir, file_name, result)` writes a refused file's `.errors.txt`.
    With `skip_loaded`, a file whose content was published before is moved aside as `duplicate`
    without being loaded again."""
    processed_dir, rejected_dir = inbox / "processed", inbox / "rejected"
    results = []
    for path in inbox_files(inbox):
        too_large = oversize(path)
        content = b"" if too_large else path.read_bytes()
        content_hash = file_sha256(path) if too_large else hashlib.sha256(content).hexdigest()
        if skip_loaded:
            with engine.connect() as conn:
                seen = conn.execute(sa.select(inbox_file).where(inbox_file.c.content_hash == content_hash)).first()
            if seen is not None and seen.status in SETTLED:
                move_aside(path, processed_dir)
                results.append({"file": path.name, "status": BatchStatus.DUPLICATE,
                                "message": f"same content as {seen.file_name}, loaded before; moved aside"})
                continue
        # A batch the error stopped was failed with it by wap.settled_on_error.
        result = refused(path.name, too_large) if too_large else load_or_refuse(path.name, lambda: load(path, content))
        if result is None:
            continue
        result = {"file": path.name, **result}
        if result["status"] in SETTLED:
            move_aside(path, processed_dir)
        else:
            write_errors(rejected_dir, path.name, result)
            move_aside(path, rejected_dir)
        with engine.begin() as conn:
            conn.execute(sa.delete(inbox_file).where(inbox_file.c.content_hash == content_hash))
            conn.execute(sa.insert(inbox_file).values(
                content_hash=content_hash, source=source, file_name=path.name, entity=result.get("entity"),
                kode_wilayah=result.get("kode_kab_kota"), periode=result.get("periode"), status=result["status"],
                batch_id=result.get("batch_id"), message=result["message"], processed_at=now()))
        log.info("%s inbox %s: %s: %s", source, path.name, result["status"], result["message"])
        results.append(result)
    return results
