"""The one exception type for input a user can fix.

Library code raises :class:`UserError` for malformed files, unknown names and impossible
settings; the CLI turns it into one line on stderr and exit code 2.  Everything else is a bug
and keeps its traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message is one line that names the problem."""
