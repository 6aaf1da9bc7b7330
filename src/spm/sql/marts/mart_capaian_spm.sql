-- mart_capaian_spm for one kab/kota and quarter (year-to-date), from the per-desa work rows of
-- computation batch :batch_id: desa, kecamatan and kab/kota levels; L, P and semua (jenis
-- layanan without a meaningful sex split keep semua only); sasaran unrounded; capaian raw and
-- capped; NULL capaian where the sasaran is 0.

DELETE FROM mart_capaian_spm
WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO mart_capaian_spm (
    tahun, triwulan, kode_wilayah, jenis_kelamin, kode_layanan, tingkat_wilayah, kode_kab_kota,
    sasaran, terlayani, belum_terlayani, capaian, capaian_dibatasi, semester_penduduk, batch_ids, batch_id)
WITH per_desa AS (
    SELECT kode_desa, jenis_kelamin, kode_layanan, SUM(sasaran) AS sasaran, SUM(terlayani) AS terlayani
    FROM work_capaian_desa
    WHERE batch_id = :batch_id
    GROUP BY kode_desa, jenis_kelamin, kode_layanan
),
per_sex AS (
    SELECT kode_desa, jenis_kelamin, kode_layanan, sasaran, terlayani FROM per_desa
    UNION ALL
    SELECT kode_desa, 'semua', kode_layanan, SUM(sasaran), SUM(terlayani)
    FROM per_desa GROUP BY kode_desa, kode_layanan
),
per_level AS (
    SELECT kode_desa AS kode_wilayah, 'desa_kelurahan' AS tingkat_wilayah, jenis_kelamin, kode_layanan,
           sasaran, terlayani
    FROM per_sex
    UNION ALL
    SELECT SUBSTR(kode_desa, 1, 8), 'kecamatan', jenis_kelamin, kode_layanan, SUM(sasaran), SUM(terlayani)
    FROM per_sex GROUP BY SUBSTR(kode_desa, 1, 8), jenis_kelamin, kode_layanan
    UNION ALL
    SELECT SUBSTR(kode_desa, 1, 5), 'kabupaten_kota', jenis_kelamin, kode_layanan, SUM(sasaran), SUM(terlayani)
    FROM per_sex GROUP BY SUBSTR(kode_desa, 1, 5), jenis_kelamin, kode_layanan
)
SELECT :tahun, :triwulan, p.kode_wilayah, p.jenis_kelamin, p.kode_layanan, p.tingkat_wilayah, :kode_kab_kota,
       p.sasaran, p.terlayani,
       CASE WHEN p.sasaran > p.terlayani THEN p.sasaran - p.terlayani ELSE 0 END,
       CASE WHEN p.sasaran > 0 THEN 100.0 * p.terlayani / p.sasaran END,
       CASE WHEN p.sasaran > 0 THEN
           CASE WHEN 100.0 * p.terlayani / p.sasaran > 100 THEN 100.0 ELSE 100.0 * p.terlayani / p.sasaran END
       END,
       :semester_penduduk, :batch_ids, :batch_id
FROM per_level p
JOIN dim_layanan l ON l.kode_layanan = p.kode_layanan
WHERE l.pembagian_jenis_kelamin = :benar OR p.jenis_kelamin = 'semua';
