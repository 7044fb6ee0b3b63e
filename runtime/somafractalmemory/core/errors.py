"""Errors the core raises; the API maps each to one HTTP status."""


class SomaError(Exception):
    """Base of every error the core raises on purpose."""


class InvalidInput(SomaError, ValueError):
    """The caller sent something malformed (maps to 400/422)."""


class NotFound(SomaError, LookupError):
    """A memory or graph node that the request names does not exist (maps to 404)."""


class BackendUnavailable(SomaError):
    """A backend the request needs is down; nothing was acknowledged (maps to 503)."""

    def __init__(self, backend: str, detail: str) -> None:
        super().__init__(f"{backend} is unavailable: {detail}")
        self.backend = backend
        self.detail = detail


class ImportInterrupted(BackendUnavailable):
    """A backend failed part-way through an import: says what was stored until then (maps to 503)."""

    def __init__(self, cause: BackendUnavailable, memories: int, links: int) -> None:
        super().__init__(cause.backend, cause.detail)
        self.args = (
            f"{cause}; the import stopped after storing {memories} memories and {links} links. "
            "Importing the same stream again is safe: each line replaces what it stored before",
        )
        self.memories = memories
        self.links = links
