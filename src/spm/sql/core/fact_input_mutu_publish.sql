-- Publish one validated OPD workbook's mutu sheet: replace the kab/kota × bidang × tahun × triwulan
-- partition of fact_input_mutu (runs in the same transaction as fact_input_anggaran_publish.sql).
DELETE FROM fact_input_mutu
WHERE kode_kab_kota = :kode_kab_kota AND bidang = :bidang AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO fact_input_mutu (tahun, triwulan, kode_kab_kota, kode_layanan, komponen, uraian, bidang, satuan,
                             jumlah_dibutuhkan, jumlah_tersedia, baris, batch_id)
SELECT :tahun, :triwulan, s.kode_kab_kota, s.kode_layanan, s.komponen, s.uraian, s.bidang, s.satuan,
       s.jumlah_dibutuhkan, s.jumlah_tersedia, s.row_id, s.batch_id
FROM staging_input_mutu s
WHERE s.batch_id = :batch_id;
