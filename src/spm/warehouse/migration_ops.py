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
