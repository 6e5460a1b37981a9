"""The one error type users see: it names what is wrong and what to do about it."""


class LutnasError(Exception):
    """A user-facing error. The message says what is wrong and how to fix it.

    Command-line entry points print it without a traceback and exit with status 2.
    """
