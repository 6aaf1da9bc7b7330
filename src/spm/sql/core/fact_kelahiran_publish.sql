-- Publish one validated births batch: replace the kab/kota × year partition of fact_kelahiran.
DELETE FROM fact_kelahiran
WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun;

INSERT INTO fact_kelahiran (tahun, bulan, kode_desa, jenis_kelamin, kode_kab_kota, jumlah, batch_id)
SELECT s.tahun, s.bulan, s.kode_desa, s.jenis_kelamin, s.kode_kab_kota, s.jumlah, s.batch_id
FROM staging_kelahiran s
WHERE s.batch_id = :batch_id AND s.lolos = :lolos;
