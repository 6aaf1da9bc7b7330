-- Publish one validated OPD workbook's tahapan sheet (status of the four tahapan penerapan SPM per jenis
-- layanan): replace the kab/kota (or provinsi) × bidang × tahun × triwulan partition of fact_input_tahapan.
DELETE FROM fact_input_tahapan
WHERE kode_kab_kota = :kode_kab_kota AND bidang = :bidang AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO fact_input_tahapan (tahun, triwulan, kode_kab_kota, bidang, kode_layanan, pengumpulan_data,
                                penghitungan_kebutuhan, rencana_pemenuhan, pelaksanaan, keterangan, baris, batch_id)
SELECT :tahun, :triwulan, s.kode_kab_kota, s.bidang, s.kode_layanan, s.pengumpulan_data, s.penghitungan_kebutuhan,
       s.rencana_pemenuhan, s.pelaksanaan, s.keterangan, s.row_id, s.batch_id
FROM staging_input_tahapan s
WHERE s.batch_id = :batch_id;
