-- How many current rows the merge would close: vanished or changed codes.
SELECT COUNT(*) FROM dim_wilayah d
WHERE d.berlaku_sampai IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM staging_wilayah s
    WHERE s.kode = d.kode AND s.nama = d.nama AND s.tingkat = d.tingkat
      AND COALESCE(s.kode_induk, '') = COALESCE(d.kode_induk, '')
  );
