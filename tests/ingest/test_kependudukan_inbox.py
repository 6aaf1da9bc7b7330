"""Write-audit-publish of population files through the inbox, on SQLite and PostgreSQL."""

import json

import pytest
import sqlalchemy as sa

from spm.ingest.kependudukan import ingest_inbox
from spm.warehouse.tables import dq_result, etl_batch, fact_kelahiran, fact_penduduk, inbox_file, quarantine
from tests.warehouses import with_wilayah

DESA = ["32.71.01.1001", "32.71.01.1002", "32.71.01.1003"]
HEADER = "semester,kode_desa,jenis_kelamin,umur,jumlah"


TOTAL = sum(10 + u % 7 for _ in DESA for _ in "LP" for u in range(101))  # of penduduk_lines()
OFFICIAL = 1_144_108  # Kota Bogor, data/wilayah/penduduk_wilayah.csv


def penduduk_lines(semester="2024-2", jumlah=lambda d, jk, u: 10 + u % 7):
    return [HEADER] + [f"{semester},{d},{jk},{u},{jumlah(d, jk, u)}" for d in DESA for jk in "LP" for u in range(101)]


@pytest.fixture
def loaded(engine, site_config):
    with_wilayah(engine)
    # These files hold three desa of Kota Bogor: the official-total gate compares with their share.
    site_config({"kualitas.yaml": {"kependudukan": {"skala_total_resmi": TOTAL / OFFICIAL}}})
    return engine


@pytest.fixture
def inbox(tmp_path):
    path = tmp_path / "inbox"
    path.mkdir()
    return path


def _drop(inbox, name, lines):
    (inbox / name).write_text("\n".join(lines) + "\n")


def _total(engine, tahun=2024, semester=2):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.sum(fact_penduduk.c.jumlah)).where(
            fact_penduduk.c.tahun == tahun, fact_penduduk.c.semester == semester)).scalar_one()


def test_good_file_is_published_and_bad_rows_quarantined_without_losing_the_rest(loaded, inbox):
    lines = penduduk_lines()
    lines.append("2024-2,32.71.09.9999,L,5,3")   # desa not in Kota Bogor
    lines.append("2024-2,32.71.01.1001,X,5,3")   # sex not L/P
    lines.append("2024-2,32.71.01.1002,L,101,3")  # age out of range
    lines.append("2024-2,32.71.01.1004,L,7,-2")  # negative count
    _drop(inbox, "dkb_3271_2024-2.csv", lines)
    [result] = ingest_inbox(loaded, inbox, "run-1")
    assert result["status"] == "published", result
    assert (result["rows_received"], result["rows_published"], result["rows_quarantined"]) == (610, 606, 4)
    expected = sum(10 + u % 7 for _ in DESA for _ in "LP" for u in range(101))
    assert _total(loaded) == expected
    with loaded.connect() as conn:
        q = {r.natural_key: r for r in conn.execute(sa.select(quarantine))}
        failed = {r.expectation for r in conn.execute(sa.select(dq_result).where(dq_result.c.success.is_(False)))}
    assert q["2024-2|32.71.09.9999|L|5"].failed_expectations == "kode_desa_dikenal_di_kab_kota"
    assert q["2024-2|32.71.01.1001|X|5"].failed_expectations == "jenis_kelamin_l_p"
    assert q["2024-2|32.71.01.1002|L|101"].failed_expectations == "umur_0_100"
    assert q["2024-2|32.71.01.1004|L|7"].row_data["jumlah"] == -2
    assert failed == {"kode_desa_dikenal_di_kab_kota", "jenis_kelamin_l_p", "umur_0_100", "jumlah_tidak_negatif"}
    assert (inbox / "processed" / "dkb_3271_2024-2.csv").exists()


def test_same_content_again_changes_nothing(loaded, inbox):
    _drop(inbox, "a.csv", penduduk_lines())
    ingest_inbox(loaded, inbox, "run-1")
    before = _total(loaded)
    _drop(inbox, "a.csv", penduduk_lines())  # same bytes: moved aside as a duplicate
    _drop(inbox, "b.csv", list(reversed(penduduk_lines()[1:])) + [])  # same rows, other order, no header
    results = {r["file"]: r for r in ingest_inbox(loaded, inbox, "run-2")}
    assert results["a.csv"]["status"] == "duplicate"
    assert results["b.csv"]["status"] == "rejected"  # no header line
    _drop(inbox, "c.csv", [HEADER] + list(reversed(penduduk_lines()[1:])))
    [c] = ingest_inbox(loaded, inbox, "run-3")
    assert c["status"] == "unchanged"
    assert _total(loaded) == before
    with loaded.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_penduduk)).scalar_one() == 606


def test_critical_failure_publishes_nothing_and_keeps_previous_data(loaded, inbox):
    _drop(inbox, "v1.csv", penduduk_lines())
    ingest_inbox(loaded, inbox, "run-1")
    before = _total(loaded)
    lines = penduduk_lines(jumlah=lambda d, jk, u: 11)
    lines.append(lines[5])  # a duplicate desa × sex × age
    _drop(inbox, "v2.csv", lines)
    [r] = ingest_inbox(loaded, inbox, "run-2")
    assert r["status"] == "failed" and "tanpa_duplikat_desa_jk_umur" in r["message"]
    assert _total(loaded) == before
    errors = (inbox / "rejected" / "v2.csv.errors.txt").read_text()
    assert "tanpa_duplikat_desa_jk_umur (critical): 2 baris, yaitu baris 6, 608" in errors
    assert "Tidak ada isi berkas ini yang dimuat" in errors


def test_too_many_quarantined_rows_reject_the_batch(loaded, inbox):
    lines = penduduk_lines()
    lines = [lines[0]] + [line.replace(",L,", ",l,") for line in lines[1:]]  # half the rows bad
    _drop(inbox, "x.csv", lines)
    [r] = ingest_inbox(loaded, inbox, "run-1")
    assert r["status"] == "rejected" and "above the 5.0 % limit" in r["message"]
    assert _total(loaded) is None
    errors = (inbox / "rejected" / "x.csv.errors.txt").read_text()
    assert "Alasan: 303 dari 606 baris dikarantina (50.0 %), di atas batas 5.0 %" in errors
    assert "jenis_kelamin_l_p (warning, kolom jenis_kelamin): 303 baris" in errors
    assert "Pesan teknis (untuk tim data): 303 of 606 rows" in errors


def test_total_jump_is_a_flagged_warning_not_a_rejection(loaded, inbox):
    _drop(inbox, "s1.csv", penduduk_lines(semester="2024-1"))
    _drop(inbox, "s2.csv", penduduk_lines(semester="2024-2", jumlah=lambda d, jk, u: 2 * (10 + u % 7)))
    results = ingest_inbox(loaded, inbox, "run-1")
    assert [r["status"] for r in results] == ["published", "published"]
    with loaded.connect() as conn:
        flagged = conn.execute(sa.select(dq_result).where(
            dq_result.c.batch_id == results[1]["batch_id"], dq_result.c.success.is_(False))).all()
    # Doubled: against the previous semester and against the official total alike.
    assert sorted((f.expectation, f.severity) for f in flagged) == [
        ("total_kab_kota_dekat_semester_lalu", "warning"), ("total_kab_kota_dekat_total_resmi", "warning")]
    assert {json.loads(f.observed_value) for f in flagged} == {2 * _total(loaded, 2024, 1)}


def test_a_first_semester_with_every_count_tripled_is_flagged_against_the_official_total(loaded, inbox):
    """No previous semester to compare with: the official total shipped with the region data still is."""
    _drop(inbox, "s.csv", penduduk_lines(jumlah=lambda d, jk, u: 3 * (10 + u % 7)))
    [r] = ingest_inbox(loaded, inbox, "run-1")
    assert r["status"] == "published"
    with loaded.connect() as conn:
        flagged = conn.execute(sa.select(dq_result.c.expectation).where(
            dq_result.c.batch_id == r["batch_id"], dq_result.c.success.is_(False))).scalars().all()
    assert flagged == ["total_kab_kota_dekat_total_resmi"]


def test_a_site_can_make_a_plausibility_gate_critical(loaded, inbox, site_config):
    site_config({"kualitas.yaml": {"kependudukan": {"skala_total_resmi": TOTAL / OFFICIAL},
                                   "keparahan": {"dukcapil_penduduk": {"total_kab_kota_dekat_total_resmi": "critical"}}}})
    _drop(inbox, "s.csv", penduduk_lines(jumlah=lambda d, jk, u: 3 * (10 + u % 7)))
    [r] = ingest_inbox(loaded, inbox, "run-1")
    assert r["status"] == "failed" and _total(loaded) is None
    assert (inbox / "rejected" / "s.csv.errors.txt").exists()
    with loaded.connect() as conn:
        b = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == r["batch_id"])).one()
    assert b.status == "failed" and "total_kab_kota_dekat_total_resmi" in b.message


@pytest.mark.parametrize("keparahan, error", [
    ({"dukcapil_penduduk": {"tidak_ada": "critical"}}, "keparahan.dukcapil_penduduk.tidak_ada is not a setting"),
    ({"dukcapil_penduduk": {"total_kab_kota_dekat_total_resmi": "fatal"}}, "is 'fatal', not one of"),
    ({"dukcapil_pendudu": {}}, "keparahan.dukcapil_pendudu is not a setting"),
])
def test_a_wrong_severity_override_is_a_config_error_naming_it(keparahan, error, site_config):
    from spm.errors import ConfigError
    from spm.quality.gx_runner import load_suite_file

    site_config({"kualitas.yaml": {"keparahan": keparahan}})
    with pytest.raises(ConfigError, match=error):
        load_suite_file("dukcapil_penduduk")


def test_births_xlsx_and_malformed_file(loaded, inbox):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["tahun", "bulan", "kode_desa", "jenis_kelamin", "jumlah"])
    for bulan in range(1, 13):
        for d in DESA:
            book.active.append([2024, bulan, d, "L", bulan])
            book.active.append([2024, bulan, d, "P", 1])
    book.save(inbox / "lahir_2024.xlsx")
    _drop(inbox, "rusak.csv", ["tahun,bulan,kode_desa", "2024,1"])
    results = {r["file"]: r for r in ingest_inbox(loaded, inbox, "run-1")}
    assert results["lahir_2024.xlsx"]["status"] == "published"
    with loaded.connect() as conn:
        assert conn.execute(sa.select(sa.func.sum(fact_kelahiran.c.jumlah))).scalar_one() == 3 * (78 + 12)
        statuses = dict(conn.execute(sa.select(inbox_file.c.file_name, inbox_file.c.status)).all())
        batches = conn.execute(sa.select(etl_batch.c.entity, etl_batch.c.status)).all()
    assert statuses == {"lahir_2024.xlsx": "published", "rusak.csv": "rejected"}
    assert batches == [("kelahiran", "published")]
    assert "tidak cocok dengan format mana pun" in (inbox / "rejected" / "rusak.csv.errors.txt").read_text()


def test_file_mixing_kab_kota_is_rejected(loaded, inbox):
    lines = penduduk_lines() + ["2024-2,32.01.01.2001,L,5,3"]
    _drop(inbox, "campur.csv", lines)
    [r] = ingest_inbox(loaded, inbox, "run-1")
    assert r["status"] == "rejected" and "satu kab/kota" in r["message"]


@pytest.mark.parametrize("semester,column", [("2025/1", "semester"), ("2025-3", "semester"), ("25-1", "semester")])
def test_a_malformed_period_rejects_its_file_alone(loaded, inbox, semester, column):
    _drop(inbox, "a_bad.csv", penduduk_lines(semester=semester))
    _drop(inbox, "b_good.csv", penduduk_lines())
    results = {r["file"]: r for r in ingest_inbox(loaded, inbox, "run-1")}
    assert results["a_bad.csv"]["status"] == "rejected"
    assert f"kolom {column}: seharusnya YYYY-1" in results["a_bad.csv"]["message"]
    assert results["b_good.csv"]["status"] == "published"
    errors = (inbox / "rejected" / "a_bad.csv.errors.txt").read_text()
    assert "Alasan:" in errors and "Tidak ada isi berkas ini yang dimuat" in errors
    with loaded.connect() as conn:
        assert conn.execute(sa.select(etl_batch.c.status)).scalars().all() == ["published"]


def test_a_file_of_an_unknown_kab_kota_is_rejected_not_retried(loaded, inbox):
    _drop(inbox, "a.csv", [HEADER, "2024-2,32.99.01.1001,L,5,3"])
    _drop(inbox, "b.csv", penduduk_lines())
    results = {r["file"]: r for r in ingest_inbox(loaded, inbox, "run-1")}
    assert "kab/kota 32.99 bukan kab/kota Kemendagri yang berlaku" in results["a.csv"]["message"]
    assert results["b.csv"]["status"] == "published"
    assert not list(inbox.glob("*.csv"))  # nothing left to block the next run


# Each step of a file's load, broken once: (module attribute, what it replaces).
STEPS = ["spm.ingest.kependudukan.parse_table", "spm.ingest.wap.replace_partition",
         "spm.ingest.kependudukan.validation_parameters", "spm.quality.gx_runner.validate_frame",
         "spm.ingest.wap.run_sql_file"]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.rsplit(".", 1)[1])
def test_an_exception_at_any_step_rejects_the_file_and_leaves_no_batch_running(loaded, inbox, break_once, step):
    break_once(step, RuntimeError("injected failure"))
    _drop(inbox, "a_first.csv", penduduk_lines(jumlah=lambda d, jk, u: 11))
    _drop(inbox, "b_second.csv", [line.replace("2024-2", "2024-1") for line in penduduk_lines()])
    results = {r["file"]: r for r in ingest_inbox(loaded, inbox, "run-1")}
    assert results["a_first.csv"]["status"] == "rejected"
    assert "RuntimeError: injected failure" in results["a_first.csv"]["message"]
    assert results["b_second.csv"]["status"] == "published"
    assert (inbox / "rejected" / "a_first.csv.errors.txt").exists()
    with loaded.connect() as conn:
        statuses = conn.execute(sa.select(etl_batch.c.periode, etl_batch.c.status)).all()
        refused = conn.execute(sa.select(inbox_file).where(inbox_file.c.file_name == "a_first.csv")).one()
    assert ("2024-1", "published") in statuses
    assert "running" not in {s for _, s in statuses}
    assert _total(loaded, 2024, 2) is None  # nothing of the broken file published
    assert refused.status == "rejected" and refused.batch_id is None  # alerted to Disdukcapil by name


def test_a_lost_warehouse_connection_keeps_the_file_and_the_next_run_supersedes_its_batch(loaded, inbox, break_once):
    """A transient warehouse error is no fault of the file: it stays in the inbox and the task fails
    (to be retried); the next load of the partition closes the batch left running as superseded."""
    lost = sa.exc.OperationalError("INSERT ...", {}, Exception("server closed the connection"))
    break_once("spm.ingest.wap.run_sql_file", lost)
    _drop(inbox, "a.csv", penduduk_lines())
    with pytest.raises(sa.exc.OperationalError):
        ingest_inbox(loaded, inbox, "run-1")
    assert (inbox / "a.csv").exists()
    with loaded.connect() as conn:
        assert conn.execute(sa.select(etl_batch.c.status)).scalars().all() == ["running"]
    [result] = ingest_inbox(loaded, inbox, "run-2")
    assert result["status"] == "published"
    with loaded.connect() as conn:
        rows = conn.execute(sa.select(etl_batch.c.status, etl_batch.c.message).order_by(etl_batch.c.batch_id)).all()
    assert [r.status for r in rows] == ["failed", "published"]
    assert rows[0].message.startswith(f"superseded by batch {result['batch_id']}")


def _births(total_per_desa_sex: int) -> list[str]:
    lines = ["tahun,bulan,kode_desa,jenis_kelamin,jumlah"]
    for d in DESA:
        for jk in "LP":
            per_month = [total_per_desa_sex // 12 + (1 if m <= total_per_desa_sex % 12 else 0) for m in range(1, 13)]
            lines += [f"2024,{m},{d},{jk},{n}" for m, n in enumerate(per_month, start=1)]
    return lines


@pytest.mark.parametrize("births_per_desa_sex, flagged", [(10, False), (11, False), (40, True), (2, True)])
def test_births_are_compared_with_the_population_aged_0(loaded, inbox, births_per_desa_sex, flagged):
    """penduduk_lines() holds 10 children aged 0 per desa and sex at 31 December 2024."""
    _drop(inbox, "a_penduduk.csv", penduduk_lines())
    _drop(inbox, "b_lahir.csv", _births(births_per_desa_sex))
    results = {r["file"]: r for r in ingest_inbox(loaded, inbox, "run-1")}
    assert results["b_lahir.csv"]["status"] == "published"
    with loaded.connect() as conn:
        row = conn.execute(sa.select(dq_result).where(dq_result.c.batch_id == results["b_lahir.csv"]["batch_id"],
                                                      dq_result.c.expectation == "kelahiran_dekat_penduduk_umur_0")).one()
    assert row.success is (not flagged)
    assert json.loads(row.observed_value) == 6 * births_per_desa_sex


def test_a_file_above_the_size_limit_is_rejected_unread_and_the_next_one_loads(loaded, inbox, site_config):
    site_config({"kualitas.yaml": {"kependudukan": {"skala_total_resmi": TOTAL / OFFICIAL},
                                   "inbox": {"ukuran_maks_mb": 0.02}}})  # about 20 KB
    _drop(inbox, "a_besar.csv", penduduk_lines() + [f"2024-2,32.71.01.1001,L,{u},1" for u in range(101)] * 20)
    _drop(inbox, "b_biasa.csv", [line.replace("2024-2", "2024-1") for line in penduduk_lines()])
    results = {r["file"]: r for r in ingest_inbox(loaded, inbox, "run-1")}
    assert results["a_besar.csv"]["status"] == "rejected"
    assert "lebih besar dari batas 0.02 MB" in results["a_besar.csv"]["message"]
    assert "inbox.ukuran_maks_mb" in (inbox / "rejected" / "a_besar.csv.errors.txt").read_text()
    assert results["b_biasa.csv"]["status"] == "published"
    with loaded.connect() as conn:
        refused = conn.execute(sa.select(inbox_file).where(inbox_file.c.file_name == "a_besar.csv")).one()
    assert refused.status == "rejected" and refused.batch_id is None
