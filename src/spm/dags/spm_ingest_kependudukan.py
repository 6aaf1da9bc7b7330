"""Airflow DAG spm_ingest_kependudukan: Dukcapil population and births (spm.orchestration.kependudukan)."""

from spm.orchestration.kependudukan import create_ingest_kependudukan_dag

dag = create_ingest_kependudukan_dag()
