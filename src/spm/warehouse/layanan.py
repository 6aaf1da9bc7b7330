"""The jenis pelayanan dasar dimension, synchronised from the versioned catalog config."""

from __future__ import annotations

import sqlalchemy as sa

from spm.config import load_yaml
from spm.config.katalog_layanan import tingkat_of
from spm.errors import ConfigError
from spm.warehouse.tables import dim_layanan

CATALOG_FILE = "katalog_layanan.yaml"
REQUIRED = ("kode_layanan", "bidang", "nama", "uraian", "satuan", "sasaran_uraian", "dasar_hukum",
            "pembagian_jenis_kelamin")


def catalog_rows() -> list[dict]:
    data = load_yaml(CATALOG_FILE)
    rows, seen = [], set()
    for urutan, item in enumerate(data.get("layanan") or [], start=1):
        missing = [k for k in REQUIRED if item.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"{CATALOG_FILE}: entry {urutan} lacks {', '.join(missing)}")
        if item["kode_layanan"] in seen:
            raise ConfigError(f"{CATALOG_FILE}: kode_layanan {item['kode_layanan']} appears twice")
        seen.add(item["kode_layanan"])
        rows.append({k: item[k] for k in REQUIRED} | {"urutan": urutan, "tingkat_pemerintahan": tingkat_of(item, data)})
    if not rows:
        raise ConfigError(f"{CATALOG_FILE}: no layanan")
    return rows


def sync_dim_layanan(engine: sa.Engine) -> int:
    """Make dim_layanan equal the catalog (rows no longer in it are removed). Returns the row count."""
    rows = catalog_rows()
    with engine.begin() as conn:
        existing = set(conn.execute(sa.select(dim_layanan.c.kode_layanan)).scalars())
        wanted = {r["kode_layanan"] for r in rows}
        if existing - wanted:
            conn.execute(sa.delete(dim_layanan).where(dim_layanan.c.kode_layanan.in_(existing - wanted)))
        for row in rows:
            if row["kode_layanan"] in existing:
                conn.execute(
                    sa.update(dim_layanan).where(dim_layanan.c.kode_layanan == row["kode_layanan"]).values(**row)
                )
            else:
                conn.execute(sa.insert(dim_layanan).values(**row))
    return len(rows)
