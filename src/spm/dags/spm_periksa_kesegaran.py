"""Airflow DAG spm_periksa_kesegaran: morning freshness check of every feed (spm.orchestration.peringatan)."""

from spm.orchestration.peringatan import create_periksa_kesegaran_dag

dag = create_periksa_kesegaran_dag()
