-- mart_terlayani_bulanan for one kab/kota and year from the per-desa work rows of computation batch
-- :batch_id: desa, kecamatan and kab/kota; L, P and semua (semua only for jenis layanan without a
-- meaningful sex split). Each person appears in the one month the standard was first met.

DELETE FROM mart_terlayani_bulanan
WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun;

INSERT INTO mart_terlayani_bulanan (
    tahun, bulan, kode_wilayah, jenis_kelamin, kode_layanan, tingkat_wilayah, kode_kab_kota, terlayani_baru, batch_id)
WITH per_sex AS (
    SELECT bulan, kode_desa, jenis_kelamin, kode_layanan, terlayani_baru
    FROM work_terlayani_bulanan_desa WHERE batch_id = :batch_id
    UNION ALL
    SELECT bulan, kode_desa, 'semua', kode_layanan, SUM(terlayani_baru)
    FROM work_terlayani_bulanan_desa WHERE batch_id = :batch_id
    GROUP BY bulan, kode_desa, kode_layanan
),
per_level AS (
    SELECT bulan, kode_desa AS kode_wilayah, 'desa_kelurahan' AS tingkat_wilayah, jenis_kelamin, kode_layanan,
           terlayani_baru
    FROM per_sex
    UNION ALL
    SELECT bulan, SUBSTR(kode_desa, 1, 8), 'kecamatan', jenis_kelamin, kode_layanan, SUM(terlayani_baru)
    FROM per_sex GROUP BY bulan, SUBSTR(kode_desa, 1, 8), jenis_kelamin, kode_layanan
    UNION ALL
    SELECT bulan, SUBSTR(kode_desa, 1, 5), 'kabupaten_kota', jenis_kelamin, kode_layanan, SUM(terlayani_baru)
    FROM per_sex GROUP BY bulan, SUBSTR(kode_desa, 1, 5), jenis_kelamin, kode_layanan
)
SELECT :tahun, p.bulan, p.kode_wilayah, p.jenis_kelamin, p.kode_layanan, p.tingkat_wilayah, :kode_kab_kota,
       p.terlayani_baru, :batch_id
FROM per_level p
JOIN dim_layanan l ON l.kode_layanan = p.kode_layanan
WHERE l.pembagian_jenis_kelamin = :benar OR p.jenis_kelamin = 'semua';
