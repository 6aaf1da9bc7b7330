-- Provinsi rows of the jenis layanan whose sasaran and terlayani the OPD enters (katalog `sumber: opd`:
-- the province's health crisis and KLB services), for one province and quarter, computation batch
-- :batch_id, from the penerima sheet of the province's own OPD workbook (fact_input_penerima).
-- The Dinas Provinsi reports for the whole province, so kab_kota_dimuat = kab_kota_total; sasaran 0
-- (no one affected so far) leaves capaian undefined (NULL), never 0 or 100. Runs after
-- marts/mart_capaian_spm_provinsi.sql, which cleared the partition's provinsi rows.
INSERT INTO mart_capaian_spm (
    tahun, triwulan, kode_wilayah, jenis_kelamin, kode_layanan, tingkat_wilayah, kode_kab_kota,
    sasaran, terlayani, belum_terlayani, capaian, capaian_dibatasi, semester_penduduk, batch_ids, batch_id,
    kab_kota_dimuat, kab_kota_total)
SELECT :tahun, :triwulan, CAST(:kode_provinsi AS VARCHAR(13)), 'semua', f.kode_layanan, 'provinsi',
       CAST(:kode_provinsi AS VARCHAR(13)),
       f.jumlah_sasaran, f.terlayani,
       CASE WHEN f.jumlah_sasaran > f.terlayani THEN f.jumlah_sasaran - f.terlayani ELSE 0 END,
       CASE WHEN f.jumlah_sasaran > 0 THEN 100.0 * f.terlayani / f.jumlah_sasaran END,
       CASE WHEN f.jumlah_sasaran > 0 THEN
           CASE WHEN f.terlayani > f.jumlah_sasaran THEN 100.0 ELSE 100.0 * f.terlayani / f.jumlah_sasaran END
       END,
       '-', CAST(f.batch_id AS VARCHAR(16)), :batch_id, :kab_kota_total, :kab_kota_total
FROM fact_input_penerima f
JOIN dim_layanan l ON l.kode_layanan = f.kode_layanan AND l.tingkat_pemerintahan = 'provinsi'
WHERE f.kode_kab_kota = CAST(:kode_provinsi AS VARCHAR(13)) AND f.tahun = :tahun AND f.triwulan = :triwulan;
