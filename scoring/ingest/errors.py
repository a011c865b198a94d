"""The refusal of ingest: a file that cannot be loaded (a URL that cannot be fetched is
:class:`scoring.ingest.archive.DownloadError`)."""

from scoring.errors import ExoHunterError


class IngestError(ExoHunterError):
    """The file cannot be loaded; the message says why, in one line. Nothing was written."""
