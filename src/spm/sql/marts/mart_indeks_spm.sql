-- mart_indeks_spm for one kab/kota and quarter, computation batch :batch_id (DESIGN §5, §7;
-- spm.indicators.indeks runs it, then sets label and explains NULL means).
-- Per jenis layanan of the catalog: capaian_penerima = the capped capaian of the kab/kota `semua`
-- row of mart_capaian_spm, mutu from int_mutu_layanan, nilai = the configured weighted sum.
-- Nothing missing becomes 0 or 100: a missing figure stays NULL and keterangan says why.
-- Then marts/mart_indeks_spm_rerata.sql: the bidang and daerah means.

DELETE FROM mart_indeks_spm
WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO mart_indeks_spm (
    tahun, triwulan, kode_wilayah, kode_kab_kota, batch_ids, batch_id,
    bidang, kode_layanan, tingkat_indeks, capaian_penerima, mutu, nilai, keterangan, urutan)
WITH cap AS (
    SELECT kode_layanan, capaian_dibatasi FROM mart_capaian_spm
    WHERE kode_wilayah = :kode_kab_kota AND jenis_kelamin = 'semua' AND tahun = :tahun AND triwulan = :triwulan
),
mt AS {{ ref('intermediate/int_mutu_layanan.sql') }},
opd AS (
    SELECT DISTINCT bidang FROM fact_input_mutu
    WHERE kode_kab_kota = :kode_kab_kota AND tahun = :tahun AND triwulan = :triwulan
),
layanan AS (
    SELECT l.bidang, l.kode_layanan, l.urutan, cap.capaian_dibatasi AS capaian, mt.mutu,
           CASE WHEN cap.kode_layanan IS NULL
                    THEN 'capaian penerima belum dihitung untuk ' || :lokasi || ' (data sumbernya belum masuk)'
                WHEN cap.capaian_dibatasi IS NULL THEN 'capaian penerima tidak terdefinisi: sasaran 0'
           END AS sebab_capaian,
           CASE WHEN opd.bidang IS NULL THEN 'belum ada input OPD (mutu) bidang ' || l.bidang || ' untuk ' || :lokasi
                WHEN mt.kode_layanan IS NULL THEN 'input OPD triwulan ini tidak memuat item mutu jenis layanan ini'
                WHEN mt.mutu IS NULL THEN 'jumlah_dibutuhkan semua item mutu jenis layanan ini 0'
           END AS sebab_mutu
    FROM dim_layanan l
    LEFT JOIN cap ON cap.kode_layanan = l.kode_layanan
    LEFT JOIN mt ON mt.kode_layanan = l.kode_layanan
    LEFT JOIN opd ON opd.bidang = l.bidang
    -- A kab/kota's index is over the kab/kota SPM (the province's own layanan are not its).
    WHERE l.tingkat_pemerintahan = 'kabupaten_kota'
)
SELECT :tahun, :triwulan, :kode_kab_kota, :kode_kab_kota, :batch_ids, :batch_id,
       bidang, kode_layanan, 'layanan', capaian, mutu,
       CASE WHEN capaian IS NOT NULL AND mutu IS NOT NULL THEN :bobot_penerima * capaian + :bobot_mutu * mutu END,
       CASE WHEN sebab_capaian IS NOT NULL AND sebab_mutu IS NOT NULL THEN sebab_capaian || '; ' || sebab_mutu
            WHEN sebab_capaian IS NOT NULL THEN sebab_capaian
            ELSE sebab_mutu
       END,
       urutan
FROM layanan;
