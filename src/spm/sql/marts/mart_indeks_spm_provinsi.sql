-- The layanan rows of mart_indeks_spm for one province and quarter, computation batch :batch_id
-- (spm.indicators.indeks; then marts/mart_indeks_spm_rerata.sql adds the bidang and daerah means).
-- Two indices, kept apart by tingkat_pemerintahan (their means never mix):
-- - `kabupaten_kota`, the roll-up of the kab/kota SPM: capaian_penerima = the capped capaian of the
--   provinsi `semua` row of mart_capaian_spm; mutu rolls up the OPD inputs (fact_input_mutu) of the
--   kab/kota that row covers by the kab/kota rule: each item counts at most as fully met,
--   Σ min(tersedia, dibutuhkan) ÷ Σ dibutuhkan × 100 over their items. A mutu over part of the
--   covered kab/kota would pass for all of them: when one of them has no OPD input of the bidang for
--   the quarter, mutu stays NULL and keterangan says how many lack it;
-- - `provinsi`, the index of the province's own SPM (dim_layanan tingkat_pemerintahan 'provinsi'):
--   capaian_penerima from its provinsi row; mutu from the province's own OPD input (the partition
--   kode_kab_kota = the province's code, filled in by its Dinas), intermediate/int_mutu_layanan.sql.

DELETE FROM mart_indeks_spm
WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO mart_indeks_spm (
    tahun, triwulan, kode_wilayah, kode_kab_kota, batch_ids, batch_id,
    bidang, kode_layanan, tingkat_indeks, capaian_penerima, mutu, nilai, keterangan, urutan, tingkat_pemerintahan)
WITH cap AS (
    SELECT kode_layanan, capaian_dibatasi, kab_kota_dimuat FROM mart_capaian_spm
    WHERE kode_wilayah = :kode_kab_kota AND jenis_kelamin = 'semua' AND tahun = :tahun AND triwulan = :triwulan
),
kab AS (
    SELECT kode_wilayah AS kode_kab_kota, kode_layanan FROM mart_capaian_spm
    WHERE tingkat_wilayah = 'kabupaten_kota' AND jenis_kelamin = 'semua' AND tahun = :tahun
      AND triwulan = :triwulan AND kode_wilayah LIKE :awalan_kab_kota
),
opd AS (
    SELECT DISTINCT kode_kab_kota, bidang FROM fact_input_mutu
    WHERE tahun = :tahun AND triwulan = :triwulan AND kode_kab_kota LIKE :awalan_kab_kota
),
tanpa_input AS (
    SELECT kab.kode_layanan, COUNT(*) AS jumlah
    FROM kab
    JOIN dim_layanan l ON l.kode_layanan = kab.kode_layanan
    LEFT JOIN opd ON opd.kode_kab_kota = kab.kode_kab_kota AND opd.bidang = l.bidang
    WHERE opd.bidang IS NULL
    GROUP BY kab.kode_layanan
),
mt AS (
    SELECT f.kode_layanan,
           CASE WHEN SUM(f.jumlah_dibutuhkan) > 0 THEN
               CAST(SUM(CASE WHEN f.jumlah_tersedia < f.jumlah_dibutuhkan THEN f.jumlah_tersedia
                             ELSE f.jumlah_dibutuhkan END) * 100 AS DOUBLE PRECISION)
               / CAST(SUM(f.jumlah_dibutuhkan) AS DOUBLE PRECISION)
           END AS mutu
    FROM fact_input_mutu f
    JOIN kab ON kab.kode_kab_kota = f.kode_kab_kota AND kab.kode_layanan = f.kode_layanan
    WHERE f.tahun = :tahun AND f.triwulan = :triwulan
    GROUP BY f.kode_layanan
),
mt_sendiri AS (
    SELECT * FROM {{ ref('intermediate/int_mutu_layanan.sql') }} AS m
),
tanpa_sasaran AS (  -- OPD-entered services nobody was entitled to so far (no disaster, no KLB)
    SELECT kode_layanan FROM fact_input_penerima
    WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND triwulan = :triwulan AND jumlah_sasaran = 0
),
opd_sendiri AS (
    SELECT DISTINCT bidang FROM fact_input_mutu
    WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND triwulan = :triwulan
),
layanan AS (
    SELECT 'kabupaten_kota' AS tingkat_pemerintahan, l.bidang, l.kode_layanan, l.urutan,
           cap.capaian_dibatasi AS capaian,
           CASE WHEN tanpa_input.kode_layanan IS NULL THEN mt.mutu END AS mutu,
           CASE WHEN cap.kode_layanan IS NULL
                    THEN 'capaian penerima belum dihitung untuk ' || :lokasi || ' (belum ada kab/kota provinsi ini yang memilikinya)'
                WHEN cap.capaian_dibatasi IS NULL THEN 'capaian penerima tidak terdefinisi: sasaran 0'
           END AS sebab_capaian,
           CASE WHEN cap.kode_layanan IS NULL THEN 'belum ada kab/kota provinsi ini untuk diambil mutunya'
                WHEN tanpa_input.kode_layanan IS NOT NULL
                    THEN 'belum ada input OPD (mutu) bidang ' || l.bidang || ' dari ' || CAST(tanpa_input.jumlah AS VARCHAR(8))
                         || ' di antara ' || CAST(cap.kab_kota_dimuat AS VARCHAR(8)) || ' kab/kota yang dicakup capaian'
                WHEN mt.kode_layanan IS NULL THEN 'input OPD triwulan ini tidak memuat item mutu jenis layanan ini'
                WHEN mt.mutu IS NULL THEN 'jumlah_dibutuhkan semua item mutu jenis layanan ini 0'
           END AS sebab_mutu
    FROM dim_layanan l
    LEFT JOIN cap ON cap.kode_layanan = l.kode_layanan
    LEFT JOIN tanpa_input ON tanpa_input.kode_layanan = l.kode_layanan
    LEFT JOIN mt ON mt.kode_layanan = l.kode_layanan
    WHERE l.tingkat_pemerintahan = 'kabupaten_kota'
    UNION ALL
    SELECT 'provinsi', l.bidang, l.kode_layanan, l.urutan, cap.capaian_dibatasi, mt_sendiri.mutu,
           CASE WHEN tanpa_sasaran.kode_layanan IS NOT NULL
                    THEN 'tidak ada penduduk yang berhak sejauh tahun ini (sasaran 0): tidak masuk rata-rata bidang '
                         || 'dan daerah'
                WHEN cap.kode_layanan IS NULL
                    THEN 'capaian penerima belum dihitung untuk ' || :lokasi
                         || ' (data Dapodik dan penduduk kab/kotanya belum masuk, atau penerima belum diisi Dinas)'
                WHEN cap.capaian_dibatasi IS NULL THEN 'capaian penerima tidak terdefinisi: sasaran 0'
           END,
           CASE WHEN opd_sendiri.bidang IS NULL
                    THEN 'belum ada input OPD (mutu) bidang ' || l.bidang || ' dari Dinas provinsi untuk triwulan ini'
                WHEN mt_sendiri.kode_layanan IS NULL THEN 'input OPD triwulan ini tidak memuat item mutu jenis layanan ini'
                WHEN mt_sendiri.mutu IS NULL THEN 'jumlah_dibutuhkan semua item mutu jenis layanan ini 0'
           END
    FROM dim_layanan l
    LEFT JOIN cap ON cap.kode_layanan = l.kode_layanan
    LEFT JOIN opd_sendiri ON opd_sendiri.bidang = l.bidang
    LEFT JOIN mt_sendiri ON mt_sendiri.kode_layanan = l.kode_layanan
    LEFT JOIN tanpa_sasaran ON tanpa_sasaran.kode_layanan = l.kode_layanan
    WHERE l.tingkat_pemerintahan = 'provinsi'
)
SELECT :tahun, :triwulan, :kode_kab_kota, :kode_kab_kota, :batch_ids, :batch_id,
       bidang, kode_layanan, 'layanan', capaian, mutu,
       CASE WHEN capaian IS NOT NULL AND mutu IS NOT NULL THEN :bobot_penerima * capaian + :bobot_mutu * mutu END,
       CASE WHEN sebab_capaian IS NOT NULL AND sebab_mutu IS NOT NULL THEN sebab_capaian || '; ' || sebab_mutu
            WHEN sebab_capaian IS NOT NULL THEN sebab_capaian
            ELSE sebab_mutu
       END,
       urutan, tingkat_pemerintahan
FROM layanan;
