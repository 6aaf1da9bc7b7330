-- Upsert one validated FHIR batch into fact_pasien by resource id (spm.ingest.kesehatan), inside the
-- publishing transaction of its window: a staged version with a newer meta.lastUpdated replaces
-- the published row; ids not yet published are inserted; an older or equal version changes nothing,
-- so loading the same window again changes nothing. Staging holds one row per id per batch.
-- The rows to replace are found from the staged batch (index lookups into the published table),
-- not by testing every published row of the kab/kota: a nightly window is small, the table is not.
DELETE FROM fact_pasien
WHERE kode_kab_kota = :kode_kab_kota
  AND pasien_id IN (SELECT s.pasien_id
                    FROM staging_pasien s
                    JOIN fact_pasien f ON f.kode_kab_kota = :kode_kab_kota AND f.pasien_id = s.pasien_id
                    WHERE s.batch_id = :batch_id AND s.lolos = :lolos
                      AND s.last_updated > f.last_updated);

INSERT INTO fact_pasien (kode_kab_kota, pasien_id, person_key, jenis_id, nik_valid, jenis_kelamin,
                         tanggal_lahir, kode_desa, last_updated, batch_id)
SELECT s.kode_kab_kota, s.pasien_id, s.person_key, s.jenis_id, s.nik_valid, s.jenis_kelamin,
       s.tanggal_lahir, s.kode_desa, s.last_updated, s.batch_id
FROM staging_pasien s
WHERE s.batch_id = :batch_id AND s.lolos = :lolos
  AND NOT EXISTS (SELECT 1 FROM fact_pasien f
                  WHERE f.kode_kab_kota = s.kode_kab_kota AND f.pasien_id = s.pasien_id);
