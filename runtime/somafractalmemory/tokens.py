"""Where the API token comes from: the environment, a file, or one generated on first start."""

import logging
import os
import secrets
from pathlib import Path

from somafractalmemory.datadir import PRIVATE_FILE_MODE, private_directory, tighten
from somafractalmemory.settings import Settings

log = logging.getLogger(__name__)

GENERATED_TOKEN_FILE = "api-token"  # noqa: S105 - a file name, not a secret
TOKEN_BYTES = 32


class TokenError(RuntimeError):
    """The configured token cannot be used."""


def _read(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as error:
        raise TokenError(f"cannot read the API token file {path}: {error.strerror}") from error
    if not token:
        raise TokenError(f"the API token file {path} is empty")
    return token


def resolve_token(settings: Settings) -> str:
    """SOMA_API_TOKEN, else SOMA_API_TOKEN_FILE, else the data directory's token (created owner-only)."""
    if settings.api_token is not None:
        token = settings.api_token.get_secret_value().strip()
        if not token:
            raise TokenError("SOMA_API_TOKEN is set but empty")
        return token
    if settings.api_token_file is not None:
        return _read(settings.api_token_file)
    path = settings.data_dir / GENERATED_TOKEN_FILE
    if path.exists():
        tighten(path)
        return _read(path)
    private_directory(settings.data_dir)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)  # whatever the umask took away
        handle.write(token + "\n")
    log.warning("no API token was configured: generated one in %s (readable by its owner only)", path)
    return token
