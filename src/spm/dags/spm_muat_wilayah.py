"""Airflow DAG spm_muat_wilayah: region dimension refresh (spm.orchestration.wilayah)."""

from spm.orchestration.wilayah import create_muat_wilayah_dag

dag = create_muat_wilayah_dag()
