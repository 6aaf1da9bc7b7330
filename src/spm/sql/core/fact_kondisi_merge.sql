-- Upsert one validated FHIR batch into fact_kondisi by resource id (spm.ingest.kesehatan), inside the
-- publishing transaction of its window: a staged version with a newer meta.lastUpdated replaces
-- the published row; ids not yet published are inserted; an older or equal version changes nothing,
-- so loading the same window again changes nothing. Staging holds one row per id per batch.
-- The rows to replace are found from the staged batch (index lookups into the published table),
-- not by testing every published row of the kab/kota: a nightly window is small, the table is not.
DELETE FROM fact_kondisi
WHERE kode_kab_kota = :kode_kab_kota
  AND kondisi_id IN (SELECT s.kondisi_id
                     FROM staging_kondisi s
                     JOIN fact_kondisi f ON f.kode_kab_kota = :kode_kab_kota AND f.kondisi_id = s.kondisi_id
                     WHERE s.batch_id = :batch_id AND s.lolos = :lolos
                       AND s.last_updated > f.last_updated);

INSERT INTO fact_kondisi (kode_kab_kota, kondisi_id, pasien_id, status_klinis, status_verifikasi, tanggal_onset, kode,
                          sistem_kode, last_updated, batch_id)
SELECT s.kode_kab_kota, s.kondisi_id, s.pasien_id, s.status_klinis, s.status_verifikasi, s.tanggal_onset, s.kode,
       s.sistem_kode, s.last_updated, s.batch_id
FROM staging_kondisi s
WHERE s.batch_id = :batch_id AND s.lolos = :lolos
  AND NOT EXISTS (SELECT 1 FROM fact_kondisi f
                  WHERE f.kode_kab_kota = s.kode_kab_kota AND f.kondisi_id = s.kondisi_id);
