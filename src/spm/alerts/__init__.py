"""Data-quality monitoring and alerts (issue 9).

- `konfigurasi`: owners, channels and routing from the versioned `config/peringatan.yaml`;
- `deteksi`: what is wrong now, read from etl_batch / dq_result / inbox_file (and feed freshness);
- `keadaan`: the alert state in the warehouse (grouping, reminders, resolution, daily digest);
- `pesan`: alert texts built from counts, expectation names, codes, periods and batch ids only;
- `saluran`: delivery by e-mail (Airflow SMTP provider), webhook and Telegram;
- `callback`: the notifiers the DAG factory attaches to every task (technical failures).
"""
