"""One exception hierarchy for everything a user can get wrong or run into."""


class FitSenseError(Exception):
    """Base class: the message is written for the person running FitSense."""


class ConfigurationError(FitSenseError):
    """A setting is missing or malformed."""


class DatabaseUnavailableError(FitSenseError):
    """PostgreSQL cannot be reached or refused the connection."""


class MigrationError(FitSenseError):
    """The schema cannot be migrated; the database was left as it was."""


class DataValidationError(FitSenseError):
    """Input data breaks a rule; nothing was written."""
