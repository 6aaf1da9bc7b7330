"""Airflow DAG spm_muat_wilayah: region dimension refresh (spm.orchestration.dags.MUAT_WILAYAH)."""

from spm.orchestration.dags import create_muat_wilayah_dag

dag = create_muat_wilayah_dag()
