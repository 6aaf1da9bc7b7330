-- Upsert one validated FHIR batch into fact_observasi by resource id (spm.ingest.kesehatan), inside the
-- publishing transaction of its window: a staged version with a newer meta.lastUpdated replaces
-- the published row; ids not yet published are inserted; an older or equal version changes nothing,
-- so loading the same window again changes nothing. Staging holds one row per id per batch.
-- The rows to replace are found from the staged batch (index lookups into the published table),
-- not by testing every published row of the kab/kota: a nightly window is small, the table is not.
DELETE FROM fact_observasi
WHERE kode_kab_kota = :kode_kab_kota
  AND observasi_id IN (SELECT s.observasi_id
                       FROM staging_observasi s
                       JOIN fact_observasi f ON f.kode_kab_kota = :kode_kab_kota AND f.observasi_id = s.observasi_id
                       WHERE s.batch_id = :batch_id AND s.lolos = :lolos
                         AND s.last_updated > f.last_updated);

INSERT INTO fact_observasi (kode_kab_kota, observasi_id, pasien_id, status, tanggal_efektif, kode,
                            sistem_kode, nilai, satuan, nilai_sistolik, nilai_diastolik,
                            nilai_kode, last_updated, batch_id)
SELECT s.kode_kab_kota, s.observasi_id, s.pasien_id, s.status, s.tanggal_efektif, s.kode,
       s.sistem_kode, s.nilai, s.satuan, s.nilai_sistolik, s.nilai_diastolik, s.nilai_kode,
       s.last_updated, s.batch_id
FROM staging_observasi s
WHERE s.batch_id = :batch_id AND s.lolos = :lolos
  AND NOT EXISTS (SELECT 1 FROM fact_observasi f
                  WHERE f.kode_kab_kota = s.kode_kab_kota AND f.observasi_id = s.observasi_id);
