"""User-facing errors: one line naming the field and the reason, never a traceback."""


class CorpusError(Exception):
    """A problem with the user's input (config, file, parameter) rather than a bug."""
