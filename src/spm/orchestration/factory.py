"""A small params object per DAG and the factory that turns it into an Airflow 3 DAG."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG

from spm.alerts.callback import task_failure_notifier, task_recovery_notifier

START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
TEAM = "tim-data-pemda"  # default owner: the Pemda data team (Diskominfo/Bappeda)


def _retry_delay(default: timedelta) -> timedelta:
    # The demo and the tests shorten waits between retries; production keeps the DAG's own.
    seconds = os.environ.get("SPM_RETRY_DELAY_SECONDS")
    return timedelta(seconds=float(seconds)) if seconds else default


@dataclass(frozen=True)
class SpmDagParams:
    dag_id: str
    doc_md: str
    tags: tuple[str, ...]
    schedule: Any = None
    owner: str = TEAM
    retries: int = 2
    retry_delay: timedelta = timedelta(minutes=5)
    max_active_tasks: int = 8
    params: dict[str, Any] = field(default_factory=dict)


def create_dag(p: SpmDagParams) -> DAG:
    return DAG(
        dag_id=p.dag_id,
        doc_md=p.doc_md,
        tags=["spm", *p.tags],
        schedule=p.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=p.max_active_tasks,
        params=p.params,
        default_args={
            "owner": p.owner,
            "retries": p.retries,
            "retry_delay": _retry_delay(p.retry_delay),
            "retry_exponential_backoff": True,
            # Technical failures reach the data team (grouped); a task that succeeds again closes its alert once.
            "on_failure_callback": [task_failure_notifier],
            "on_success_callback": [task_recovery_notifier],
        },
    )
