"""Airflow DAG spm_kirim_peringatan: data-quality alerts, daily digest, DQ pages (spm.orchestration.peringatan)."""

from spm.orchestration.peringatan import create_kirim_peringatan_dag

dag = create_kirim_peringatan_dag()
