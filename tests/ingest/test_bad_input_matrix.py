"""Bad input as a careless or hostile source sends it, through the real spm_ingest_kependudukan
(dag.test, both warehouses): for each file the expected outcome (loaded, quarantined with its reason,
rejected whole with the reason named), the owner told, and the good data already published kept."""

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from spm.alerts.detection import rejected_files, scan_batches
from spm.config.peringatan import load_konfigurasi
from spm.warehouse.tables import dq_result, etl_batch, fact_penduduk, inbox_file, quarantine

from tests.ingest.test_kependudukan_dag import _states, setup, sim  # noqa: F401 - fixtures
from tests.ingest.test_kependudukan_inbox import OFFICIAL, TOTAL, penduduk_lines

pytestmark = pytest.mark.airflow
KODE = "32.71"


def _lines(semester, jumlah=lambda d, jk, u: 10 + u % 7):
    return penduduk_lines(semester=semester, jumlah=jumlah)


# file name -> (lines, expected inbox status, what must be said: a reason in the message or the errors file)
MATRIX = {
    "a_baik_2023-1.csv": (_lines("2023-1"), "published", None),
    "b_kotor_2023-2.csv": (_lines("2023-2")[:-3] + [
        "2023-2,32.71.01.1003,P,98,-4",            # negative: quarantined
        "2023-2,32.71.09.9999,P,99,3",             # desa not in Kota Bogor: quarantined
        '2023-2,32.71.01.1003,P,100,"1.017"',      # a thousands dot: read as 1017
    ], "published", None),
    "c_semester_2024-3.csv": ([line.replace("2023-1", "2024-3") for line in _lines("2023-1")], "rejected",
                              "kolom semester"),
    "d_garis_miring.csv": ([line.replace("2023-1", "2024/1") for line in _lines("2023-1")], "rejected",
                           "kolom semester"),
    "e_kab_lain.csv": ([line.replace("32.71.", "32.99.") for line in _lines("2022-2")], "rejected", "kolom kode_desa"),
    "f_kolom_salah.csv": (["semester,desa,jk,umur,jumlah", "2022-1,32.71.01.1001,L,0,3"], "rejected",
                          "tidak cocok dengan format mana pun"),
    "g_tiga_kali_2022-2.csv": (_lines("2022-2", jumlah=lambda d, jk, u: 3 * (10 + u % 7)), "published", None),
    "h_raksasa.csv": (_lines("2021-2") * 40, "rejected", "inbox.ukuran_maks_mb"),
}


@pytest.fixture
def inbox(setup, tmp_path, site_config):  # noqa: F811 - the fixture imported above
    site_config({"kualitas.yaml": {"kependudukan": {"skala_total_resmi": TOTAL / OFFICIAL},
                                   "inbox": {"ukuran_maks_mb": 0.2}}})
    folder = tmp_path / "inbox" / "dukcapil"  # $SPM_HOME/inbox/dukcapil of the setup fixture
    folder.mkdir(parents=True)
    return folder


def test_every_bad_input_has_its_outcome_and_its_reason_and_good_data_stay(dag_of, setup, inbox):  # noqa: F811
    engine = setup
    (inbox / "a_baik_2023-1.csv").write_text("\n".join(MATRIX["a_baik_2023-1.csv"][0]) + "\n")
    first = dag_of("spm_ingest_kependudukan").test(run_conf={"kode_wilayah": [KODE], "tahun": 2024, "semester": 2})
    assert first.state == "success", _states(first)
    with engine.connect() as conn:
        good = conn.execute(sa.select(sa.func.sum(fact_penduduk.c.jumlah)).where(
            fact_penduduk.c.tahun == 2023, fact_penduduk.c.semester == 1)).scalar_one()
    assert good == TOTAL

    for name, (lines, _, _) in MATRIX.items():
        if name != "a_baik_2023-1.csv":
            (inbox / name).write_text("\n".join(lines) + "\n")
    run = dag_of("spm_ingest_kependudukan").test(run_conf={"kode_wilayah": [KODE], "tahun": 2024, "semester": 2})
    assert run.state == "failed"  # the rejected files fail the run's check, after everything else ran
    assert _states(run)[("check_rejected_files", -1)] == "failed"

    with engine.connect() as conn:
        recorded = {r.file_name: r for r in conn.execute(sa.select(inbox_file))}
        batches = {b.batch_id: b for b in conn.execute(sa.select(etl_batch))}
        totals = dict(((t, s), n) for t, s, n in conn.execute(
            sa.select(fact_penduduk.c.tahun, fact_penduduk.c.semester, sa.func.sum(fact_penduduk.c.jumlah))
            .group_by(fact_penduduk.c.tahun, fact_penduduk.c.semester)))
    for name, (_, status, reason) in MATRIX.items():
        assert recorded[name].status == status, (name, recorded[name].message)
        if status == "rejected":
            errors = (inbox / "rejected" / f"{name}.errors.txt").read_text()
            assert reason in errors, (name, errors)
            assert not (inbox / name).exists()
    assert "running" not in {b.status for b in batches.values()}
    assert all(b.rows_received == b.rows_published + b.rows_quarantined + b.rows_duplicate + b.rows_unchanged
               for b in batches.values() if b.status == "published")

    # What was published is what the good rows say; nothing of a rejected file; the first file kept.
    assert totals[(2023, 1)] == good
    assert totals[(2023, 2)] == TOTAL - (10 + 98 % 7) - (10 + 99 % 7) - (10 + 100 % 7) + 1017
    assert totals[(2022, 2)] == 3 * TOTAL
    assert (2024, 3) not in totals and (2024, 1) not in totals and (2021, 2) not in totals

    kotor = batches[recorded["b_kotor_2023-2.csv"].batch_id]
    tiga = batches[recorded["g_tiga_kali_2022-2.csv"].batch_id]
    with engine.connect() as conn:
        reasons = sorted(conn.execute(sa.select(quarantine.c.failed_expectations)
                                      .where(quarantine.c.batch_id == kotor.batch_id)).scalars())
        flagged = conn.execute(sa.select(dq_result.c.expectation).where(
            dq_result.c.batch_id == tiga.batch_id, dq_result.c.success.is_(False))).scalars().all()
    assert reasons == ["jumlah_tidak_negatif", "kode_desa_dikenal_di_kab_kota"]
    assert kotor.rows_quarantined == 2
    assert flagged == ["total_kab_kota_dekat_total_resmi"]

    # Disdukcapil hears of every one of them: the quarantined rows and the tripled file by their
    # batches, each rejected file by its name.
    scan = scan_batches(engine, load_konfigurasi(), 0, datetime.now(timezone.utc), None)
    told = {m.fingerprint.split(":")[0] + ":" + (m.periode or ""): m for m in scan.findings}
    assert told["catatan_mutu:2023-2"].pemilik == "disdukcapil"
    assert "b_kotor_2023-2.csv" in "\n".join(told["catatan_mutu:2023-2"].lines)
    assert told["catatan_mutu:2022-2"].pemilik == "disdukcapil"
    refused = {m.detail["berkas"]: m.pemilik for m in rejected_files(engine, load_konfigurasi(), None, None)}
    assert refused == {name: "disdukcapil" for name, (_, status, _) in MATRIX.items() if status == "rejected"}
