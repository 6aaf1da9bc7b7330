"""Errors that carry a one-line, actionable message for operators."""


class SpmError(Exception):
    """Base class: the message is shown to the user as it is."""


class ConfigError(SpmError):
    """A setting, connection or config file is missing or wrong."""


class InputError(SpmError):
    """An input file or source response breaks its contract."""


class WarehouseError(SpmError):
    """The warehouse cannot be reached or is not in the expected state."""


class RowAccountingError(SpmError):
    """A batch's rows do not add up: received ≠ published + quarantined + duplicates + unchanged."""
