"""Kubernetes resource quantities ("10Gi", "500M") as exact numbers, for comparing storage sizes."""

from __future__ import annotations

import re
from decimal import Decimal

_SUFFIXES: dict[str, int] = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
STORAGE_PATTERN = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
_STORAGE_RE = re.compile(STORAGE_PATTERN)


def storage_bytes(quantity: str) -> int:
    """The number of bytes a storage quantity stands for; ValueError if it is not one."""
    match = _STORAGE_RE.match(quantity)
    if match is None:
        raise ValueError(f"{quantity!r} is not a storage quantity such as 10Gi or 500M")
    suffix = match.group(2) or ""
    number = quantity[: len(quantity) - len(suffix)]
    return int(Decimal(number) * _SUFFIXES[suffix])
