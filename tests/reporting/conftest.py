"""A warehouse filled by the real pipeline from the simulator (ingest, capaian, index), built once per
module and engine: reports and the dashboard are tested against what production would publish."""

from __future__ import annotations

import contextlib
import uuid

import pytest
import sqlalchemy as sa
from tests.warehouses import with_wilayah

KODE = "32.71"
TAHUN, TRIWULAN = 2026, 3


def _fill(engine: sa.Engine, sim, opd_folder) -> None:
    from spm.indicators.capaian import compute_capaian
    from spm.indicators.indeks import compute_indeks
    from spm.ingest import kependudukan, kesehatan, pendidikan
    from spm.ingest.input_opd import ingest_workbook
    from spm.simulator.inbox import write_opd_files
    from spm.sources.connections import SourceConnection
    from spm.sources.dapodik import DapodikClient
    from spm.sources.dukcapil import DukcapilClient
    from spm.sources.satusehat import SatusehatClient
    from spm.warehouse.layanan import sync_dim_layanan

    with_wilayah(engine)
    sync_dim_layanan(engine)
    dukcapil = DukcapilClient(SourceConnection("spm_dukcapil", sim.dukcapil_url,
                                               password=sim.credentials["dukcapil_api_key"]))
    for part in kependudukan.partitions([KODE], 2025, 2):
        kependudukan.publish_partition(engine, kependudukan.validate_partition(
            engine, kependudukan.extract_api(engine, part, "t", dukcapil)))
    dapodik = DapodikClient(SourceConnection("spm_dapodik", sim.dapodik_url, password=sim.credentials["dapodik_token"]))
    for semester in (2, 1):  # 20252 serves quarters 1-2 of 2026, 20261 quarters 3-4
        tahun = 2025 if semester == 2 else 2026
        pendidikan.ingest(engine, pendidikan.partitions([KODE], tahun, semester)[0], "t", dapodik)
    fhir = SatusehatClient(SourceConnection("spm_satusehat", sim.satusehat_url, login=sim.credentials["satusehat_client_id"],
                                            password=sim.credentials["satusehat_client_secret"]))
    [window] = kesehatan.windows([KODE], "2023-01-01T00:00:00Z", "2027-07-01T00:00:00Z", {KODE: "spm_satusehat"})
    kesehatan.ingest(engine, window, "t", fhir)
    for triwulan in (2, TRIWULAN):
        for path in write_opd_files(sim.world, opd_folder / f"tw{triwulan}", TAHUN, triwulan):
            result = ingest_workbook(engine, path.read_bytes(), path.name, "t")
            assert result["status"] == "published", result
        assert compute_capaian(engine, KODE, TAHUN, triwulan, "t")["status"] == "published"
        compute_indeks(engine, KODE, TAHUN, triwulan, "t")


@pytest.fixture(scope="session")
def laporan_sim():
    from spm.simulator.config import SimulatorConfig
    from spm.simulator.servers import SimulatorServers

    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.004, seed=11)) as servers:
        yield servers


@contextlib.contextmanager
def filled_warehouse(kind: str, tmp_path_factory, sim):
    """A warehouse (SQLite file or a fresh PostgreSQL database) filled by the real pipeline; dropped after."""
    from spm.settings import normalise_url
    from spm.warehouse.db import get_engine, upgrade
    from tests.conftest import postgres_admin_url

    admin = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('laporan') / 'warehouse.db'}"
    else:
        admin_url = normalise_url(postgres_admin_url())
        name = f"spm_test_laporan_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = get_engine(url)
    upgrade(engine)
    _fill(engine, sim, tmp_path_factory.mktemp("opd"))
    engine.dispose()
    try:
        yield url
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def laporan_url(request, tmp_path_factory, laporan_sim):
    """A filled warehouse (SQLite file or a fresh PostgreSQL database), shared by the reporting tests."""
    with filled_warehouse(request.param, tmp_path_factory, laporan_sim) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def approval_url(request, tmp_path_factory, laporan_sim):
    """A filled warehouse of its own for the approval tests: they lock and change figures the other
    reporting tests read."""
    with filled_warehouse(request.param, tmp_path_factory, laporan_sim) as url:
        yield url


def clear_approvals(engine: sa.Engine) -> None:
    """Back to a draft nobody touched, without accounts."""
    from spm.warehouse.tables_persetujuan import pengguna, persetujuan_triwulan, sesi_dasbor, verifikasi_bidang

    with engine.begin() as conn:
        for t in (verifikasi_bidang, persetujuan_triwulan, sesi_dasbor, pengguna):
            conn.execute(sa.delete(t))


@pytest.fixture
def laporan_engine(laporan_url):
    from spm.warehouse.db import get_engine

    engine = get_engine(laporan_url)
    yield engine
    engine.dispose()
