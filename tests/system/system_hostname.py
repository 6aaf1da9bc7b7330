"""`[core] hostname_callable` of the system test: the name of the Airflow process the task ran in
(SPM_SYSTEM_WORKER, set per Celery worker), so tasks on two workers of one machine can be told apart."""

import os
import socket


def hostname() -> str:
    name = os.environ.get("SPM_SYSTEM_WORKER")
    return f"{name}.{socket.getfqdn()}" if name else socket.getfqdn()
