"""Commands whose settings need an optional extra say which one to install, instead of a traceback."""

import importlib.util

from somafractalmemory.cli.errors import CliError
from somafractalmemory.settings import Settings

PRODUCTION = "production"
EMBEDDINGS = "embeddings"
# The top-level modules each extra installs (pyproject.toml's optional dependencies).
EXTRA_MODULES = {
    PRODUCTION: ("psycopg", "psycopg_pool", "redis", "qdrant_client", "confluent_kafka"),
    EMBEDDINGS: ("sentence_transformers",),
}


class MissingExtra(CliError):
    """An optional dependency the command needs is not installed (exit status 1)."""

    def __init__(self, needs: str, extra: str) -> None:
        super().__init__(f"{needs} needs the '{extra}' extra: pip install 'somafractalmemory[{extra}]'")


def require(extra: str, needs: str) -> None:
    """Raise MissingExtra, naming ``needs``, when a module of ``extra`` is not installed."""
    if any(importlib.util.find_spec(module) is None for module in EXTRA_MODULES[extra]):
        raise MissingExtra(needs, extra)


def require_backends(settings: Settings) -> None:
    """The extras that the backends the settings select need (none for the embedded default)."""
    if not settings.embedded:
        require(PRODUCTION, "PostgreSQL, Redis, Qdrant or the event broker (POSTGRES_URL, ...)")
    if settings.embedding_provider == "sentence-transformers":
        require(EMBEDDINGS, "SOMA_EMBEDDING_PROVIDER=sentence-transformers")


def extra_of(error: ModuleNotFoundError) -> str | None:
    """The extra that installs the missing module, if one does."""
    module = (error.name or "").partition(".")[0]
    return next((extra for extra, modules in EXTRA_MODULES.items() if module in modules), None)
