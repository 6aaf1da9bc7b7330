-- Publish one validated OPD workbook's ikm sheet: replace the kab/kota (or provinsi) × bidang × tahun ×
-- triwulan partition of fact_input_ikm (same transaction as fact_input_mutu_publish.sql). A workbook
-- without the sheet (an older template) leaves the partition empty: the latest workbook is what counts.
DELETE FROM fact_input_ikm
WHERE kode_kab_kota = :kode_kab_kota AND bidang = :bidang AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO fact_input_ikm (tahun, triwulan, kode_kab_kota, bidang, baris, unit_layanan, kode_layanan,
                            periode_survei, jumlah_responden, nilai_ikm, batch_id)
SELECT :tahun, :triwulan, s.kode_kab_kota, s.bidang, s.row_id, s.unit_layanan, s.kode_layanan, s.periode_survei,
       s.jumlah_responden, s.nilai_ikm, s.batch_id
FROM staging_input_ikm s
WHERE s.batch_id = :batch_id;
