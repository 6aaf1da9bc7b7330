"""Airflow wiring: the DAG factory, Assets and the plain functions task bodies call.

Modules here import only `airflow.sdk` and the standard library at module level, so DAG files parse
fast; the package's heavy parts (pandas, GX, SQLAlchemy work) are imported inside task functions.
"""
