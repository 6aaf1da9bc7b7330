-- Publish one validated OPD workbook's anggaran sheet: replace the kab/kota × bidang × tahun × triwulan
-- partition of fact_input_anggaran (same transaction as fact_input_mutu_publish.sql).
DELETE FROM fact_input_anggaran
WHERE kode_kab_kota = :kode_kab_kota AND bidang = :bidang AND tahun = :tahun AND triwulan = :triwulan;

INSERT INTO fact_input_anggaran (tahun, triwulan, kode_kab_kota, kode_layanan, bidang, alokasi,
                                 realisasi_01, realisasi_02, realisasi_03, realisasi_04, realisasi_05, realisasi_06,
                                 realisasi_07, realisasi_08, realisasi_09, realisasi_10, realisasi_11, realisasi_12,
                                 realisasi, baris, batch_id)
SELECT :tahun, :triwulan, s.kode_kab_kota, s.kode_layanan, s.bidang, s.alokasi,
       s.realisasi_01, s.realisasi_02, s.realisasi_03, s.realisasi_04, s.realisasi_05, s.realisasi_06,
       s.realisasi_07, s.realisasi_08, s.realisasi_09, s.realisasi_10, s.realisasi_11, s.realisasi_12,
       s.realisasi, s.row_id, s.batch_id
FROM staging_input_anggaran s
WHERE s.batch_id = :batch_id;
