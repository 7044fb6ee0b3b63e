"""Every setting the runtime reads is in the README's settings table, by its exact variable name."""

import re
from pathlib import Path

from somafractalmemory.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def variable_names(field_name: str) -> list[str]:
    alias = Settings.model_fields[field_name].validation_alias
    if alias is None:
        return [f"SOMA_{field_name.upper()}"]
    return [name for name in getattr(alias, "choices", []) if isinstance(name, str) and name.isupper()]


def documented_names() -> set[str]:
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_every_setting_has_a_row_in_the_readme() -> None:
    documented = documented_names()
    missing = [
        field for field in Settings.model_fields if not any(n in documented for n in variable_names(field))
    ]
    assert missing == []


def test_the_table_names_no_variable_the_runtime_does_not_read() -> None:
    known = {name for field in Settings.model_fields for name in variable_names(field)}
    assert sorted(documented_names() - known) == []


def test_a_field_without_an_alias_is_read_under_the_soma_prefix() -> None:
    assert variable_names("ann_threshold") == ["SOMA_ANN_THRESHOLD"]
    assert variable_names("qdrant_api_key") == ["QDRANT_API_KEY"]
