-- Publish one validated OPD workbook's penerima sheet: replace the kab/kota (or provinsi) × bidang ×
-- tahun × triwulan partition of fact_input_penerima (same transaction as fact_input_mutu_publish.sql).
DELETE FROM fact_input_penerima
WHERE kode_kab_kota = :kode_kab_kota AND bidang = :bidang AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO fact_input_penerima (tahun, triwulan, kode_kab_kota, kode_layanan, bidang, jumlah_sasaran,
                                 terlayani_01, terlayani_02, terlayani_03, terlayani_04, terlayani_05, terlayani_06,
                                 terlayani_07, terlayani_08, terlayani_09, terlayani_10, terlayani_11, terlayani_12,
                                 terlayani, keterangan, baris, batch_id)
SELECT :tahun, :triwulan, s.kode_kab_kota, s.kode_layanan, s.bidang, s.jumlah_sasaran,
       s.terlayani_01, s.terlayani_02, s.terlayani_03, s.terlayani_04, s.terlayani_05, s.terlayani_06,
       s.terlayani_07, s.terlayani_08, s.terlayani_09, s.terlayani_10, s.terlayani_11, s.terlayani_12,
       s.terlayani, s.keterangan, s.row_id, s.batch_id
FROM staging_input_penerima s
WHERE s.batch_id = :batch_id;
