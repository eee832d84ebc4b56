"""The one exception type for problems a user can fix."""


class ScsmdError(Exception):
    """Bad input, bad option or bad bundle: the message says what was found and what to do."""
