"""The shipped routing config: owners of DESIGN §1, references only (no secrets), errors that say what to fix."""

import copy

import pytest

from spm.config.peringatan import load_konfigurasi
from spm.alerts.messages import Message, mask_digits
from spm.config import load_yaml
from spm.errors import ConfigError


def test_sources_route_to_their_owners_and_unknown_ones_to_the_data_team():
    cfg = load_konfigurasi()
    assert cfg.pemilik_sumber("dukcapil", "penduduk") == "disdukcapil"
    assert cfg.pemilik_sumber("dapodik", "peserta_didik") == "disdik"
    assert cfg.pemilik_sumber("satusehat", "pasien") == "dinkes"
    assert cfg.pemilik_sumber("opd", "kesehatan") == "dinkes"
    assert cfg.pemilik_sumber("opd", "pendidikan") == "disdik"
    assert cfg.pemilik_sumber("sistem_baru", "x") == cfg.tim_data == "tim_data"
    assert cfg.pemilik_bidang("kesehatan") == "dinkes" and cfg.penyebut_pemilik == "disdukcapil"


def test_config_holds_references_not_secrets():
    raw = load_yaml("peringatan.yaml")
    for owner in raw["pemilik"].values():
        for channel in owner["saluran"]:
            assert set(channel) <= {"jenis", "koneksi", "kepada_variable", "chat_id_variable", "format", "ringkasan"}
            assert "@" not in str(channel) and "://" not in str(channel)


def test_routing_to_an_undefined_owner_is_refused():
    raw = copy.deepcopy(load_yaml("peringatan.yaml"))
    raw["rute"].append({"sumber": "x", "pemilik": "dinsos"})
    with pytest.raises(ConfigError, match="dinsos"):
        load_konfigurasi(raw)


def test_long_digit_runs_are_masked_in_every_text():
    p = Message("baru", "tim_data", "x 3271014502900001", ("nisn 0012345678", "kode 32.71.01.1001"))
    assert "3271014502900001" not in p.text + p.html + p.subject and "0012345678" not in p.text
    assert "32.71.01.1001" in p.text and mask_digits("batch 12") == "batch 12"
