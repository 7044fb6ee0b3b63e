"""The field encryption the settings select: SOMA_ENCRYPTED_FIELDS and the keys, from
SOMA_ENCRYPTION_KEYS or SOMA_ENCRYPTION_KEYS_FILE (never both). Every mistake is a start-up error that
names what is wrong without printing key material."""

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.field_encryption import FieldEncryption, parse_keys
from somafractalmemory.settings import Settings


def key_lines(text: str) -> list[str]:
    """The keys of a keys file: one a line; blank lines and ``#`` comments are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def configured_keys(settings: Settings) -> list[str]:
    if settings.encryption_keys is not None and settings.encryption_keys_file is not None:
        raise InvalidInput("set SOMA_ENCRYPTION_KEYS or SOMA_ENCRYPTION_KEYS_FILE, not both")
    if settings.encryption_keys_file is not None:
        path = settings.encryption_keys_file
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise InvalidInput(f"SOMA_ENCRYPTION_KEYS_FILE {str(path)!r} cannot be read: {reason}") from None
        keys = key_lines(text)
        if not keys:
            raise InvalidInput(f"SOMA_ENCRYPTION_KEYS_FILE {str(path)!r} holds no key")
        return keys
    if settings.encryption_keys is not None:
        return [key.strip() for key in settings.encryption_keys.get_secret_value().split(",") if key.strip()]
    return []


def field_encryption(settings: Settings) -> FieldEncryption:
    fields = frozenset(settings.encrypted_fields)
    return FieldEncryption(fields, tuple(parse_keys(configured_keys(settings))))
