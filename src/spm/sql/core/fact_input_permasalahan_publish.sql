-- Publish one validated OPD workbook's permasalahan sheet: replace the kab/kota (or provinsi) × bidang ×
-- tahun × triwulan partition of fact_input_permasalahan (same transaction as fact_input_mutu_publish.sql).
-- A workbook without the sheet (an older template) leaves the partition empty: the latest workbook is what counts.
DELETE FROM fact_input_permasalahan
WHERE kode_kab_kota = :kode_kab_kota AND bidang = :bidang AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO fact_input_permasalahan (tahun, triwulan, kode_kab_kota, bidang, kode_layanan, permasalahan, solusi,
                                     baris, batch_id)
SELECT :tahun, :triwulan, s.kode_kab_kota, s.bidang, s.kode_layanan, s.permasalahan, s.solusi, s.row_id, s.batch_id
FROM staging_input_permasalahan s
WHERE s.batch_id = :batch_id;
