"""Airflow DAG spm_ingest_input_opd: OPD mutu and anggaran workbooks (spm.orchestration.input_opd)."""

from spm.orchestration.input_opd import create_ingest_input_opd_dag

dag = create_ingest_input_opd_dag()
