"""The package works installed (not editable): SQL, suites, DAG files and templates are package data.

A wheel is built from the checkout and unpacked into a folder of its own; a fresh process that
imports spm from there (dependencies from this environment) migrates a warehouse, reads the SQL
and suites, and parses every DAG from the package's own dags folder.
"""

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.slow

CHECK = r"""
import json, sys
import spm, spm.settings as s
from spm.warehouse.db import get_engine, upgrade
from spm.quality.gx_runner import load_suite_file
from spm.opd_template import template_dir, template_filename
assert spm.__file__.startswith(sys.argv[1]), spm.__file__
assert s.project_dir() is None, s.project_dir()
upgrade(get_engine(sys.argv[2]))
load_suite_file("satusehat_pasien")
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=str(s.dags_dir()))
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": list(bag.import_errors),
                  "sql": sorted(p.name for p in s.sql_dir().rglob("*.sql")),
                  "template": (template_dir() / template_filename("kesehatan")).name if (template_dir() / template_filename("kesehatan")).exists() else None}))
"""


def test_a_plain_install_carries_every_resource(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheel_dir), str(PROJECT)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = wheel_dir.glob("spm_pipeline-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "SPM_PROJECT_DIR"}
    env["PYTHONPATH"] = str(site)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(site / "spm" / "dags")
    proc = subprocess.run([sys.executable, "-c", CHECK, str(site), f"sqlite:///{tmp_path / 'wh.db'}"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == []
    assert len(out["dags"]) == len(list((PROJECT / "dags").glob("spm_*.py")))
    assert out["sql"] == sorted(p.name for p in (PROJECT / "sql").rglob("*.sql"))
    assert out["template"].endswith(".xlsx")
