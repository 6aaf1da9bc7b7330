"""Operations several migrations share. A migration calls these with its own frozen column lists."""

from __future__ import annotations

import sqlalchemy as sa


def staging_to_text(columns: dict[str, dict[str, int]]) -> None:
    """Received text staged whole: each `table: {column: former length}` becomes TEXT."""
    from alembic import op

    for table, lengths in columns.items():
        with op.batch_alter_table(table) as batch:
            for column, length in lengths.items():
                batch.alter_column(column, type_=sa.Text, existing_type=sa.String(length), existing_nullable=True)


def staging_to_length(columns: dict[str, dict[str, int]]) -> None:
    """The way back: staging rows are dropped first (staging only serves the batch in flight), as a
    longer value would not fit."""
    from alembic import op

    for table, lengths in columns.items():
        op.execute(sa.text(f"DELETE FROM {table}"))
        with op.batch_alter_table(table) as batch:
            for column, length in lengths.items():
                batch.alter_column(column, type_=sa.String(length), existing_type=sa.Text, existing_nullable=True)


# SQLite keeps foreign keys unnamed: batch mode names them by this convention to drop them.
_FK_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def drop_batch_keys(tables: tuple[str, ...]) -> None:
    """Each table's foreign key batch_id -> etl_batch goes."""
    from alembic import op

    bind = op.get_bind()
    for table in tables:
        if bind.dialect.name == "sqlite":
            with op.batch_alter_table(table, naming_convention=_FK_CONVENTION, recreate="always") as batch:
                batch.drop_constraint(f"fk_{table}_batch_id_etl_batch", type_="foreignkey")
            continue
        for fk in sa.inspect(bind).get_foreign_keys(table):
            if fk["referred_table"] == "etl_batch":
                op.drop_constraint(fk["name"], table, type_="foreignkey")


def add_batch_keys(tables: tuple[str, ...]) -> None:
    """The way back: the foreign keys batch_id -> etl_batch again."""
    from alembic import op

    for table in tables:
        if op.get_bind().dialect.name == "sqlite":
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.create_foreign_key(f"fk_{table}_batch_id_etl_batch", "etl_batch", ["batch_id"], ["batch_id"])
        else:
            op.create_foreign_key(f"{table}_batch_id_fkey", table, "etl_batch", ["batch_id"], ["batch_id"])
