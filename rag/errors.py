"""The package's errors: one small tree, so callers can catch ``RagError``."""


class RagError(Exception):
    """Base class of every error the package raises on purpose.

    The CLI and the web app show these as one line, never as a traceback.
    """


class ConfigError(RagError):
    """A configuration value breaks a rule (the message names key, value and rule)."""


class ReleaseError(RagError):
    """A release file cannot be used (the message names the path and the reason)."""


class IndexNotFoundError(RagError):
    """No built index where one was expected."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings than the ones in force.

    ``reason`` says what differs, without the folder and the fix.
    """

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class IndexCorruptError(RagError):
    """An index file is damaged or inconsistent with the others."""


class IndexLockedError(RagError):
    """Another build holds the index lock."""


class QuestionError(RagError):
    """The question cannot be used (empty, too long, ...)."""


class StoreError(RagError):
    """The vector store (a Qdrant server or local-mode folder) cannot be reached, is in
    use, or refused a request."""
