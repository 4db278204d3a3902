"""Errors a user can cause and fix: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """A mistake in the user's input (file, option, run directory); the message says what and where."""


class DataError(UserError):
    """An event log that cannot be used: unreadable, empty, missing columns, bad values.

    The message names the file and, where one is at fault, the row (1-based, as a spreadsheet or
    `sed -n Np` counts data rows after the header) and the column.
    """


class ConfigError(UserError):
    """An unknown option or a value out of its range."""
