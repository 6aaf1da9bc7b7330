"""Airflow DAG spm_ingest_kesehatan: FHIR patients, encounters, observations, conditions (spm.orchestration.kesehatan)."""

from spm.orchestration.kesehatan import create_ingest_kesehatan_dag

dag = create_ingest_kesehatan_dag()
