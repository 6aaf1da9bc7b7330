"""The warehouse: schema (Alembic migrations), engine, bulk loads, reference dimensions, audit."""
