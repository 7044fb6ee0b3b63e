"""The HTTP API. ``app`` (for ``uvicorn somafractalmemory.http_api:app``) reads its settings from the
environment; it is built on first access, so importing the API's modules builds nothing."""

from typing import Any

from somafractalmemory.http_api.application import create_app

__all__ = ["app", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
