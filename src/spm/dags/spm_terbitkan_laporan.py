"""Airflow DAG spm_terbitkan_laporan: quarterly SPM reports (spm.orchestration.laporan)."""

from spm.orchestration.laporan import create_terbitkan_laporan_dag

dag = create_terbitkan_laporan_dag()
