-- Publish one validated OPD workbook's rencana_aksi sheet: replace the kab/kota (or provinsi) × bidang ×
-- tahun × triwulan partition of fact_input_rencana_aksi.
DELETE FROM fact_input_rencana_aksi
WHERE kode_kab_kota = :kode_kab_kota AND bidang = :bidang AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO fact_input_rencana_aksi (tahun, triwulan, kode_kab_kota, bidang, kode_layanan, kegiatan, keluaran,
                                     unit_pelaksana, bulan_selesai, anggaran, baris, batch_id)
SELECT :tahun, :triwulan, s.kode_kab_kota, s.bidang, s.kode_layanan, s.kegiatan, s.keluaran, s.unit_pelaksana,
       s.bulan_selesai, s.anggaran, s.row_id, s.batch_id
FROM staging_input_rencana_aksi s
WHERE s.batch_id = :batch_id;
