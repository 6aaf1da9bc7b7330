"""Airflow DAG spm_ingest_kependudukan: Dukcapil population and births (spm.orchestration.dags)."""

from spm.orchestration.dags import create_ingest_kependudukan_dag

dag = create_ingest_kependudukan_dag()
