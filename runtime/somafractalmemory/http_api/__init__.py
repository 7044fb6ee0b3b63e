"""The HTTP API. ``app`` reads its settings from the environment; clients connect at start-up."""

from somafractalmemory.http_api.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
