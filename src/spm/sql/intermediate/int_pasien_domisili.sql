-- tmp_pasien_domisili for one capaian computation (spm.indicators.kesehatan creates the temporary
-- table): the persons living in the kab/kota (:awalan_desa = its code and a dot), and every patient
-- record that any hub holds of them. A person is a person_key (the HMAC of the NIK, the same in
-- every hub); their residence, sex and birth date are those of their most recently updated Patient
-- record (DESIGN §5: the patient's village decides), so a resident served by another kab/kota's hub
-- counts here once both hubs are loaded. `utama` marks the latest record: one row per person.
INSERT INTO tmp_pasien_domisili (kode_hub, pasien_id, person_key, kode_desa, jenis_kelamin, tanggal_lahir, utama)
WITH rekam AS (
    SELECT p.kode_kab_kota, p.pasien_id, p.person_key, p.kode_desa, p.jenis_kelamin, p.tanggal_lahir,
           ROW_NUMBER() OVER (PARTITION BY p.person_key
                              ORDER BY p.last_updated DESC, p.kode_kab_kota, p.pasien_id) AS urutan
    FROM fact_pasien p
    WHERE p.person_key IN (SELECT c.person_key FROM fact_pasien c WHERE c.kode_desa LIKE :awalan_desa)
)
SELECT r.kode_kab_kota, r.pasien_id, r.person_key, t.kode_desa, t.jenis_kelamin, t.tanggal_lahir, r.urutan = 1
FROM rekam r
JOIN rekam t ON t.person_key = r.person_key AND t.urutan = 1
WHERE t.kode_desa LIKE :awalan_desa;
