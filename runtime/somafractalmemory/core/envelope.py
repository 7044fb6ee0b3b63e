"""The stored form of an encrypted payload field: ``{"$encrypted": "<Fernet token>"}``.

Kept apart from the cipher so that the text of a payload (core.text) can skip envelopes without
depending on cryptography: an encrypted value is never indexed, neither in clear nor as its token.
"""

from typing import Any

ENVELOPE_KEY = "$encrypted"


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(ENVELOPE_KEY), str)
