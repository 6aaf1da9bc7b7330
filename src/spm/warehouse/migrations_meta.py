"""Constants shared by the Alembic environment and the code that inspects it."""

VERSION_TABLE = "spm_alembic_version"
