"""The one exception type for input a user can fix.

Library code raises :class:`UserError` for malformed files, unknown names and impossible
settings; the CLI turns it into one line on stderr and exit code 2.  Everything else is a bug
and keeps its traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message is one line that names the problem."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
