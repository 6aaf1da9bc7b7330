"""Airflow DAG spm_hitung_capaian: SPM capaian marts (spm.orchestration.capaian)."""

from spm.orchestration.capaian import create_hitung_capaian_dag

dag = create_hitung_capaian_dag()
