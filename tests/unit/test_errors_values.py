"""The errors the API shows: what a backend outage and an interrupted import say."""

from somafractalmemory.core.errors import (
    BackendUnavailable,
    ImportInterrupted,
    InvalidInput,
    NotFound,
    SomaError,
)


def test_a_backend_outage_names_the_backend_and_the_cause() -> None:
    error = BackendUnavailable("redis", "connection refused")
    assert str(error) == "redis is unavailable: connection refused"
    assert (error.backend, error.detail) == ("redis", "connection refused")
    assert isinstance(error, SomaError)


def test_an_interrupted_import_says_what_was_stored() -> None:
    error = ImportInterrupted(BackendUnavailable("postgres", "timeout"), 1500, 7)
    assert str(error) == (
        "postgres is unavailable: timeout; the import stopped after storing 1500 memories and 7 links. "
        "Importing the same stream again is safe: each line replaces what it stored before"
    )
    assert (error.backend, error.detail, error.memories, error.links) == ("postgres", "timeout", 1500, 7)
    assert isinstance(error, BackendUnavailable)


def test_input_errors_are_value_errors_and_not_found_is_a_lookup_error() -> None:
    assert issubclass(InvalidInput, ValueError) and issubclass(InvalidInput, SomaError)
    assert issubclass(NotFound, LookupError) and issubclass(NotFound, SomaError)
