"""Alembic environment for the SPM warehouse (run through `spm db upgrade`)."""

from alembic import context

from spm.warehouse.tables import metadata
from spm.warehouse import tables_marts  # noqa: F401 - registers the mart tables in metadata
from spm.warehouse import tables_opd  # noqa: F401 - registers the OPD input and index tables in metadata
from spm.warehouse import tables_peringatan  # noqa: F401 - registers the alert state tables in metadata
from spm.warehouse import tables_dq  # noqa: F401 - registers GX's stored validation results in metadata
from spm.warehouse import tables_persetujuan  # noqa: F401 - registers the approval tables in metadata

from spm.warehouse.migrations_meta import VERSION_TABLE

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `spm db upgrade`")
run_migrations_online()
