-- Upsert one validated FHIR batch into fact_kunjungan by resource id (spm.ingest.kesehatan), inside the
-- publishing transaction of its window: a staged version with a newer meta.lastUpdated replaces
-- the published row; ids not yet published are inserted; an older or equal version changes nothing,
-- so loading the same window again changes nothing. Staging holds one row per id per batch.
-- The rows to replace are found from the staged batch (index lookups into the published table),
-- not by testing every published row of the kab/kota: a nightly window is small, the table is not.
DELETE FROM fact_kunjungan
WHERE kode_kab_kota = :kode_kab_kota
  AND kunjungan_id IN (SELECT s.kunjungan_id
                       FROM staging_kunjungan s
                       JOIN fact_kunjungan f ON f.kode_kab_kota = :kode_kab_kota AND f.kunjungan_id = s.kunjungan_id
                       WHERE s.batch_id = :batch_id AND s.lolos = :lolos
                         AND s.last_updated > f.last_updated);

INSERT INTO fact_kunjungan (kode_kab_kota, kunjungan_id, pasien_id, status, kelas, tanggal_mulai,
                            organisasi_id, kode_alasan, sistem_alasan, last_updated, batch_id)
SELECT s.kode_kab_kota, s.kunjungan_id, s.pasien_id, s.status, s.kelas, s.tanggal_mulai,
       s.organisasi_id, s.kode_alasan, s.sistem_alasan, s.last_updated, s.batch_id
FROM staging_kunjungan s
WHERE s.batch_id = :batch_id AND s.lolos = :lolos
  AND NOT EXISTS (SELECT 1 FROM fact_kunjungan f
                  WHERE f.kode_kab_kota = s.kode_kab_kota AND f.kunjungan_id = s.kunjungan_id);
