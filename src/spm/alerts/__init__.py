"""Data-quality monitoring and alerts (DESIGN §9). Owners, channels and routing are configuration
(`spm.config.peringatan`, from the versioned `config/peringatan.yaml`).

- `detection`: what is wrong now, read from etl_batch / dq_result / inbox_file (and feed freshness);
- `state`: the alert state in the warehouse (grouping, reminders, resolution, daily digest);
- `messages`: alert texts built from counts, expectation names, codes, periods and batch ids only;
- `channels`: delivery by e-mail (Airflow SMTP provider), webhook and Telegram, through
  `airflow_config` (the Variables and Connections they name, read at run time);
- `checks`: the two checks the alert DAGs run (detect, reconcile, deliver);
- `callback`: the notifiers the DAG factory attaches to every task (technical failures).
"""
