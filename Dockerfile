# SPM pipeline image for docker-compose.yml: the official Airflow 3.3.2 image plus this project.
#
#   docker compose build            (or: docker build -t spm-airflow:3.3.2 .)
#
# Layout inside the image:
#   /opt/spm          the project checkout (dags/, sql/, expectations/, src/), SPM_PROJECT_DIR
#   /opt/spm-home     SPM_HOME, the state folder (a named volume in docker-compose.yml)
#   /opt/spm-secrets  secrets shared by the Airflow components (a named volume)
FROM apache/airflow:3.3.2-python3.11

# Directories that become named volumes: a new volume copies their owner and mode, so any
# AIRFLOW_UID running with GID 0 (the image's convention) can write to them.
USER root
# WeasyPrint (the PDF report) needs Pango; DejaVu fonts render the report the same as in tests.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /opt/spm /opt/spm-home /opt/spm-secrets /opt/airflow/logs \
 && chown -R airflow:0 /opt/spm /opt/spm-home /opt/spm-secrets /opt/airflow/logs \
 && chmod 0775 /opt/spm /opt/spm-home /opt/airflow/logs \
 && chmod 0770 /opt/spm-secrets
USER airflow

# Dependencies first (cached layer): requirements.txt pins everything, apache-airflow==3.3.2 and the
# Celery provider included (the same file the system test installs), so pip cannot move Airflow away
# from the base image's version.
COPY --chown=airflow:0 requirements.txt /opt/spm/requirements.txt
RUN pip install --no-cache-dir -r /opt/spm/requirements.txt

# The project itself, installed editable without touching the dependencies above: the `spm` CLI is on
# PATH and the package runs from /opt/spm/src, next to the dags/, sql/ and expectations/ it reads.
COPY --chown=airflow:0 . /opt/spm
RUN pip install --no-cache-dir --no-deps -e /opt/spm

ENV SPM_PROJECT_DIR=/opt/spm \
    SPM_HOME=/opt/spm-home \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/spm/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/spm/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

# Fail the build, not the first night, if something is missing.
RUN airflow version \
 && spm --help > /dev/null \
 && python -c "import spm, spm.settings, airflow.providers.celery.executors.celery_executor" \
 && python -c "import weasyprint, spm.reporting.laporan" \
 && python -c "import spm.settings as s, sys; sys.exit(0 if str(s.project_dir()) == '/opt/spm' else 'SPM_PROJECT_DIR not used')"
