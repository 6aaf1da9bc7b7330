-- Provinsi rows of mart_capaian_spm for one province and quarter (DESIGN §7 "Provinsi rows"),
-- computation batch :batch_id: per jenis layanan and sex, sasaran = the sum of the kab/kota rows of
-- the province computed for the quarter; terlayani = the distinct persons served in any of those
-- kab/kota (work_capaian_provinsi, filled by spm.indicators.provinsi), so a person served in two
-- of them counts once; kab_kota_dimuat = how many kab/kota the row covers, of :kab_kota_total. A
-- sasaran net of learners (pend_kesetaraan) gets back, as sasaran_koreksi, the learners each of two
-- kab/kota subtracted: the province subtracts them once.

-- The partition's desa to kab/kota rows of the province's own layanan are written just before.
DELETE FROM mart_capaian_spm
WHERE kode_kab_kota = :kode_provinsi AND tahun = :tahun AND triwulan = :triwulan AND tingkat_wilayah = 'provinsi';

INSERT INTO mart_capaian_spm (
    tahun, triwulan, kode_wilayah, jenis_kelamin, kode_layanan, tingkat_wilayah, kode_kab_kota,
    sasaran, terlayani, belum_terlayani, capaian, capaian_dibatasi, semester_penduduk, batch_ids, batch_id,
    kab_kota_dimuat, kab_kota_total)
WITH kab AS (
    SELECT kode_layanan, jenis_kelamin, SUM(sasaran) AS sasaran, COUNT(*) AS kab_kota_dimuat,
           MIN(semester_penduduk) AS semester_penduduk
    FROM mart_capaian_spm
    WHERE tingkat_wilayah = 'kabupaten_kota' AND tahun = :tahun AND triwulan = :triwulan
      AND kode_wilayah LIKE :awalan_kab_kota
    GROUP BY kode_layanan, jenis_kelamin
),
p AS (
    SELECT k.kode_layanan, k.jenis_kelamin, k.sasaran + COALESCE(w.sasaran_koreksi, 0) AS sasaran,
           COALESCE(w.terlayani, 0) AS terlayani,
           k.kab_kota_dimuat, k.semester_penduduk
    FROM kab k
    LEFT JOIN work_capaian_provinsi w
        ON w.batch_id = :batch_id AND w.kode_layanan = k.kode_layanan AND w.jenis_kelamin = k.jenis_kelamin
)
SELECT :tahun, :triwulan, :kode_provinsi, p.jenis_kelamin, p.kode_layanan, 'provinsi', :kode_provinsi,
       p.sasaran, p.terlayani,
       CASE WHEN p.sasaran > p.terlayani THEN p.sasaran - p.terlayani ELSE 0 END,
       CASE WHEN p.sasaran > 0 THEN 100.0 * p.terlayani / p.sasaran END,
       CASE WHEN p.sasaran > 0 THEN
           CASE WHEN 100.0 * p.terlayani / p.sasaran > 100 THEN 100.0 ELSE 100.0 * p.terlayani / p.sasaran END
       END,
       p.semester_penduduk, :batch_ids, :batch_id, p.kab_kota_dimuat, :kab_kota_total
FROM p;
