-- mutu per jenis layanan of one kab/kota and quarter, from the published OPD input (fact_input_mutu).
-- Each item counts at most as fully met (min(tersedia, dibutuhkan)), so a surplus of one item cannot
-- hide the shortfall of another and mutu never exceeds 100; NULL where nothing is needed.
SELECT kode_layanan, bidang,
       SUM(CASE WHEN jumlah_tersedia < jumlah_dibutuhkan THEN jumlah_tersedia ELSE jumlah_dibutuhkan END) AS terpenuhi,
       SUM(jumlah_dibutuhkan) AS dibutuhkan,
       COUNT(*) AS jumlah_item,
       MAX(batch_id) AS batch_id,
       CASE WHEN SUM(jumlah_dibutuhkan) > 0 THEN
           CAST(SUM(CASE WHEN jumlah_tersedia < jumlah_dibutuhkan THEN jumlah_tersedia ELSE jumlah_dibutuhkan END) * 100
                AS DOUBLE PRECISION)
           / CAST(SUM(jumlah_dibutuhkan) AS DOUBLE PRECISION)
       END AS mutu
FROM fact_input_mutu
WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND triwulan = :triwulan
GROUP BY kode_layanan, bidang
