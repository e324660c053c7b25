"""The one exception type for errors a user can cause (bad file, bad catalog key, no network)."""


class AuroraSWError(Exception):
    """A problem the user can fix; the message names the file/key and what to do.

    The CLI prints it as one line and exits non-zero. Programming errors are not wrapped.
    """


class CatalogError(AuroraSWError):
    """``data_catalog.yaml`` is missing, unreadable or does not validate."""


class NetworkUnavailableError(AuroraSWError):
    """A download was asked for but the remote host cannot be reached."""
