-- Publish one validated population batch: replace the kab/kota × semester partition of
-- fact_penduduk with the batch's rows that passed validation (staging_penduduk.lolos).
DELETE FROM fact_penduduk
WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND semester = :semester;

INSERT INTO fact_penduduk (tahun, semester, kode_desa, jenis_kelamin, umur, kode_kab_kota, jumlah, batch_id)
SELECT :tahun, :semester, s.kode_desa, s.jenis_kelamin, s.umur, s.kode_kab_kota, s.jumlah, s.batch_id
FROM staging_penduduk s
WHERE s.batch_id = :batch_id AND s.lolos = :lolos;
