"""Errors that carry a one-line message naming the problem and the fix.

The CLI prints these as a single line and exits with status 2; any other exception is a bug.
"""

import warnings


class SteadyganError(Exception):
    """Base class for every error caused by the user's input rather than by a bug."""


class ConfigError(SteadyganError):
    """An unknown config key, a value of the wrong type, or an unknown choice."""


class DataError(SteadyganError):
    """Missing, empty, corrupt or unsuitable training data."""


class CheckpointError(SteadyganError):
    """A file that is not a steadygan checkpoint, or one that does not fit the requested use."""


class TrainingDiverged(SteadyganError):
    """Training produced NaN/inf more often than the doctor may roll back."""


class OutputError(SteadyganError):
    """An output path that would overwrite a file steadygan did not write, or that cannot be written."""


class RunFolderError(OutputError):
    """A run folder that holds another run, or is locked by another process."""


class SteadyganWarning(UserWarning):
    """Something the user should know that does not stop the command (the CLI prints it as one line)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (for one-line errors)."""
    message = str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def warn(message: str) -> None:
    warnings.warn(message, SteadyganWarning, stacklevel=2)
