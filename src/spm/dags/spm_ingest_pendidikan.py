"""Airflow DAG spm_ingest_pendidikan: Dapodik schools and learners (spm.orchestration.pendidikan)."""

from spm.orchestration.pendidikan import create_ingest_pendidikan_dag

dag = create_ingest_pendidikan_dag()
