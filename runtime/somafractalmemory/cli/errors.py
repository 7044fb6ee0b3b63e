"""The two ways a command fails, each with its exit status."""

USAGE_EXIT = 2
FAILURE_EXIT = 1


class CliError(Exception):
    """A failure the command reports in one line on stderr, without a traceback."""

    exit_code = FAILURE_EXIT


class UsageError(CliError):
    """The user asked for something malformed or incomplete (exit status 2)."""

    exit_code = USAGE_EXIT


class CommandFailed(CliError):
    """The request was fine but could not be carried out, e.g. the API is unreachable (exit status 1)."""
