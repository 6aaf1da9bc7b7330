-- The bidang and daerah rows of mart_indeks_spm for computation batch :batch_id, from its layanan
-- rows (marts/mart_indeks_spm.sql for a kab/kota, marts/mart_indeks_spm_provinsi.sql for a province).
-- Per bidang, and for the daerah (bidang `semua`, over layanan or bidang rows by configuration):
-- the mean, NULL when any member is NULL (COUNT(x) skips NULLs, COUNT(*) does not). In a province's
-- partition the roll-up of its kab/kota SPM and its own SPM (tingkat_pemerintahan) are averaged apart.
-- A service whose sasaran the OPD enters (the province's health crisis and KLB services) with nobody
-- entitled so far (jumlah_sasaran 0: no disaster, no KLB) has nothing to measure: it is left out of
-- the means (its own row says so) rather than making them NULL for the whole year.

INSERT INTO mart_indeks_spm (
    tahun, triwulan, kode_wilayah, kode_kab_kota, batch_ids, batch_id,
    bidang, kode_layanan, tingkat_indeks, capaian_penerima, mutu, nilai, keterangan, urutan, tingkat_pemerintahan)
SELECT :tahun, :triwulan, :kode_kab_kota, :kode_kab_kota, :batch_ids, :batch_id,
       bidang, NULL, 'bidang',
       CASE WHEN COUNT(capaian_penerima) = COUNT(*) THEN AVG(capaian_penerima) END,
       CASE WHEN COUNT(mutu) = COUNT(*) THEN AVG(mutu) END,
       CASE WHEN COUNT(nilai) = COUNT(*) THEN AVG(nilai) END,
       NULL, 1000 + MIN(urutan), tingkat_pemerintahan
FROM mart_indeks_spm
WHERE batch_id = :batch_id AND tingkat_indeks = 'layanan'
  AND NOT (capaian_penerima IS NULL AND kode_layanan IN (
      SELECT p.kode_layanan FROM fact_input_penerima p
      WHERE p.kode_kab_kota = CAST(:kode_kab_kota AS VARCHAR(13)) AND p.tahun = :tahun AND p.triwulan = :triwulan
        AND p.jumlah_sasaran = 0))
GROUP BY tingkat_pemerintahan, bidang;

INSERT INTO mart_indeks_spm (
    tahun, triwulan, kode_wilayah, kode_kab_kota, batch_ids, batch_id,
    bidang, kode_layanan, tingkat_indeks, capaian_penerima, mutu, nilai, keterangan, urutan, tingkat_pemerintahan)
SELECT :tahun, :triwulan, :kode_kab_kota, :kode_kab_kota, :batch_ids, :batch_id,
       'semua', NULL, 'daerah',
       CASE WHEN COUNT(capaian_penerima) = COUNT(*) THEN AVG(capaian_penerima) END,
       CASE WHEN COUNT(mutu) = COUNT(*) THEN AVG(mutu) END,
       CASE WHEN COUNT(nilai) = COUNT(*) THEN AVG(nilai) END,
       NULL, CASE WHEN tingkat_pemerintahan = 'provinsi' THEN 10000 ELSE 9999 END,
       tingkat_pemerintahan
FROM mart_indeks_spm
WHERE batch_id = :batch_id AND tingkat_indeks = :anggota_daerah
  AND NOT (capaian_penerima IS NULL AND kode_layanan IN (
      SELECT p.kode_layanan FROM fact_input_penerima p
      WHERE p.kode_kab_kota = CAST(:kode_kab_kota AS VARCHAR(13)) AND p.tahun = :tahun AND p.triwulan = :triwulan
        AND p.jumlah_sasaran = 0))
GROUP BY tingkat_pemerintahan;
