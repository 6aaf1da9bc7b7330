"""A Pemda's configuration folder overrides the packaged files key by key, checked at load."""

import pytest

from spm.cli import main
from spm.config import load_yaml
from spm.errors import ConfigError
from spm.config.katalog_layanan import faktor


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    folder.mkdir()
    monkeypatch.setenv("SPM_CONFIG_DIR", str(folder))
    return folder


def test_a_site_file_overrides_only_the_keys_it_names(site):
    (site / "faktor_sasaran.yaml").write_text(
        'bawaan:\n  kes_dm: {nilai: 0.031, sumber: "Estimasi Dinkes 2026"}\n'
        'kab_kota:\n  "32.71":\n    2026: {kes_hipertensi: {L: 0.2, P: 0.25, sumber: "Survei Kota Bogor 2025"}}\n')
    (site / "kualitas.yaml").write_text("batas_karantina_persen: 2.5\n")
    assert faktor("kes_dm", "32.72", 2026).L == 0.031
    assert faktor("kes_hipertensi", "32.71", 2026).P == 0.25
    assert faktor("kes_hipertensi", "32.72", 2026).L == 0.30  # packaged default still there
    cfg = load_yaml("kualitas.yaml")
    assert cfg["batas_karantina_persen"] == 2.5 and cfg["batas_karantina_minimal_baris"] == 10


@pytest.mark.parametrize("text,error", [
    ("bawaan:\n  kes_dmm: {nilai: 0.03, sumber: x}\n", r"faktor_sasaran.yaml: key bawaan.kes_dmm is not a setting"),
    ("bawaan:\n  kes_dm: 0.03\n", r"key bawaan.kes_dm must be a mapping like the packaged value, not a number"),
    ("bawaan: [1, 2]\n", r"key bawaan must be a mapping"),
    ("- a\n", r"must hold a mapping at the top"),
    ("bawaan: {kes_dm: {nilai: 0.03\n", r"is not valid YAML"),
])
def test_a_wrong_site_file_names_the_file_and_the_key(site, text, error):
    (site / "faktor_sasaran.yaml").write_text(text)
    with pytest.raises(ConfigError, match=error):
        load_yaml("faktor_sasaran.yaml")


def test_config_show_prints_every_value_and_where_it_came_from(site, capsys):
    (site / "indeks_spm.yaml").write_text("bobot: {capaian_penerima: 0.7, mutu: 0.3}\n")
    assert main(["config", "show", "indeks_spm.yaml"]) == 0
    out = capsys.readouterr().out
    assert f"bobot.mutu = 0.3  [site: {site / 'indeks_spm.yaml'}]" in out
    assert "agregasi.bidang = \"rata_rata_layanan\"  [packaged: " in out


def test_a_misspelt_site_file_is_an_error_not_ignored(site, capsys):
    (site / "kualitas.yml").write_text("batas_karantina_persen: 1\n")
    assert main(["config", "show"]) != 0
    assert "kualitas.yml: not a configuration file of this project" in capsys.readouterr().err
