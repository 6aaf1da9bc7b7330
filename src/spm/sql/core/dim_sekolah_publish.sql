-- Publish one validated Dapodik school batch: replace the kab/kota × semester partition of
-- dim_sekolah with the batch's schools that passed validation (staging_sekolah.lolos).
DELETE FROM dim_sekolah
WHERE kode_kab_kota = :kode_kab_kota AND semester_id = :semester_id;

INSERT INTO dim_sekolah (semester_id, npsn, sekolah_id, kode_kab_kota, nama, bentuk_pendidikan, status_sekolah,
                         kode_wilayah, last_update, batch_id)
SELECT :semester_id, s.npsn, s.sekolah_id, s.kode_kab_kota, s.nama, s.bentuk_pendidikan, s.status_sekolah,
       s.kode_wilayah, s.last_update, s.batch_id
FROM staging_sekolah s
WHERE s.batch_id = :batch_id AND s.lolos = :lolos;
