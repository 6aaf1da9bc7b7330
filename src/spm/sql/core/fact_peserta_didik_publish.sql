-- Publish one validated Dapodik learner batch: replace the kab/kota × semester partition of
-- fact_peserta_didik with one row per person (person_key) among the rows that passed validation.
-- Dedup rule (documented in spm.ingest.pendidikan): status aktif, mutasi, lulus, keluar in that
-- order; then the latest last_update (rows without one last); then the lowest npsn; then the first
-- listed row. Age on the SPM reference date (31 December before tahun_laporan, DESIGN §5) is exact
-- from the birth year; residence is the domisili desa, else the school's desa.
DELETE FROM fact_peserta_didik
WHERE kode_kab_kota = :kode_kab_kota AND semester_id = :semester_id;

INSERT INTO fact_peserta_didik (semester_id, kode_kab_kota, person_key, jenis_id, nik_valid, npsn,
                                bentuk_pendidikan, tingkat_pendidikan_id, program_kesetaraan, status,
                                jenis_kelamin, tahun_lahir, bulan_lahir, tahun_laporan, umur_referensi,
                                kode_wilayah_domisili, kode_desa_tinggal, kode_wilayah_sekolah, last_update,
                                batch_id)
SELECT :semester_id, r.kode_kab_kota, r.person_key, r.jenis_id, r.nik_valid, r.npsn,
       r.bentuk_pendidikan, r.tingkat_pendidikan_id, r.program_kesetaraan, r.status,
       r.jenis_kelamin, r.tahun_lahir, r.bulan_lahir, :tahun_laporan, :tahun_laporan - 1 - r.tahun_lahir,
       r.kode_wilayah_domisili, COALESCE(r.kode_wilayah_domisili, r.kode_wilayah_sekolah), r.kode_wilayah_sekolah,
       r.last_update, r.batch_id
FROM (
    SELECT s.*,
           ROW_NUMBER() OVER (
               PARTITION BY s.person_key
               ORDER BY CASE s.status WHEN 'aktif' THEN 1 WHEN 'mutasi' THEN 2 WHEN 'lulus' THEN 3 ELSE 4 END,
                        CASE WHEN s.last_update IS NULL THEN 1 ELSE 0 END,
                        s.last_update DESC,
                        s.npsn,
                        s.row_id
           ) AS urutan
    FROM staging_peserta_didik s
    WHERE s.batch_id = :batch_id AND s.lolos = :lolos
) r
WHERE r.urutan = 1;
