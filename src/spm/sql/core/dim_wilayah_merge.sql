-- Merge the code list in staging_wilayah into the time-versioned dim_wilayah.
-- A current row (berlaku_sampai IS NULL) that vanished or changed name, level or parent is closed
-- on :berlaku_mulai; a code with no current row (new, or changed) gets a row opened on that date.
-- Reloading the same list touches nothing.

UPDATE dim_wilayah
SET berlaku_sampai = :berlaku_mulai
WHERE berlaku_sampai IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM staging_wilayah s
    WHERE s.kode = dim_wilayah.kode
      AND s.nama = dim_wilayah.nama
      AND s.tingkat = dim_wilayah.tingkat
      AND COALESCE(s.kode_induk, '') = COALESCE(dim_wilayah.kode_induk, '')
  );

INSERT INTO dim_wilayah (kode, berlaku_mulai, nama, tingkat, kode_induk, berlaku_sampai, sumber)
SELECT s.kode, :berlaku_mulai, s.nama, s.tingkat, s.kode_induk, NULL, :sumber
FROM staging_wilayah s
WHERE NOT EXISTS (
    SELECT 1 FROM dim_wilayah d
    WHERE d.kode = s.kode AND d.berlaku_sampai IS NULL
);
