"""export and import: NDJSON round trips in both modes, per-line errors, stdin and stdout."""

import json
from pathlib import Path

from cli_harness import Soma

MEMORIES = [
    ("1,0,0", {"text": "Ana approved the budget"}),
    ("2,0,0", {"text": "Bruno fixed the outage"}),
    ("3,0,0", {"text": "Chen wrote the guide"}),
]


def fill(soma: Soma) -> None:
    for coord, payload in MEMORIES:
        soma.ok("store", coord, json.dumps(payload))
    soma.ok("link", "1,0,0", "2,0,0", "--link-type", "asked")


def test_export_then_import_into_another_namespace(soma: Soma, tmp_path: Path) -> None:
    fill(soma)
    exported = tmp_path / "export.ndjson"
    result = soma("export", "--output", str(exported))
    assert result.code == 0, result.err
    assert "exported 4 records" in result.err
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [r["kind"] for r in records] == ["memory", "memory", "memory", "link"]

    report = soma.ok("import", str(exported), "--namespace", "copy")
    assert report == {"memories": 3, "links": 1, "versions": 0, "errors": []}
    assert soma.ok("stats", "--namespace", "copy")["total_memories"] == 3
    assert soma.ok("path", "1,0,0", "2,0,0", "--namespace", "copy")["found"] is True
    assert soma.ok("get", "3,0,0", "--namespace", "copy")["payload"] == {"text": "Chen wrote the guide"}


def test_export_to_stdout_and_import_from_stdin(soma: Soma) -> None:
    fill(soma)
    exported = soma("export", "--quiet")
    assert exported.code == 0, exported.err
    assert exported.err == ""
    report = soma("import", "--namespace", "piped", stdin=exported.out.encode())
    assert report.code == 0, report.err
    assert report.json == {"memories": 3, "links": 1, "versions": 0, "errors": []}


def test_import_reports_each_bad_line(soma: Soma, tmp_path: Path) -> None:
    source = tmp_path / "mixed.ndjson"
    lines = [
        json.dumps({"kind": "memory", "coord": [1, 2], "payload": {"text": "kept"}}),
        "{this is not json",
        json.dumps({"kind": "link", "from": [1, 2], "to": [9, 9]}),
        "",
        json.dumps({"kind": "memory", "coord": [3, 4], "payload": "not an object"}),
    ]
    source.write_text("\n".join(lines) + "\n")
    result = soma("import", str(source))
    assert result.code == 1
    report = result.json
    assert (report["memories"], report["links"]) == (1, 0)
    assert [error.split(":")[0] for error in report["errors"]] == ["line 2", "line 5", "line 3"]
    assert "3 lines were not imported" in result.err
    assert soma.ok("get", "1,2")["payload"] == {"text": "kept"}


def test_import_of_a_missing_file_is_bad_input(soma: Soma, tmp_path: Path) -> None:
    result = soma("import", str(tmp_path / "nowhere.ndjson"))
    assert result.code == 2
    assert "cannot open" in result.err


def test_import_runs_the_checks_of_a_store(soma: Soma, tmp_path: Path) -> None:
    """NaN, Infinity, a timestamp that is no number, a counter past 2**53 and a lone surrogate: each line
    is reported by its number and not stored; the rest is, and export gives it back as strict JSON."""
    source = tmp_path / "hostile.ndjson"
    source.write_bytes(
        b"\n".join(
            [
                b'{"coord": [1], "payload": {"text": "kept"}}',
                b'{"coord": [2], "payload": {"x": NaN}}',
                b'{"coord": [3], "payload": {"x": -Infinity}}',
                b'{"coord": [4], "payload": {}, "created_at": "yesterday"}',
                b'{"coord": [5], "payload": {}, "access_count": 18446744073709551616}',
                b'{"coord": [6], "payload": {"t": "\\udc80"}}',
            ]
        )
    )
    result = soma("import", str(source))
    assert result.code == 1
    assert result.json == {
        "memories": 1,
        "links": 0,
        "versions": 0,
        "errors": [
            "line 2: NaN is not a JSON number",
            "line 3: -Infinity is not a JSON number",
            "line 4: 'created_at' must be a number",
            "line 5: 'access_count' must be an integer from 0 to 9007199254740991",
            "line 6: payload.t holds a lone UTF-16 surrogate (e.g. \\ud800), which is not text",
        ],
    }
    assert soma.ok("stats")["total_memories"] == 1
    exported = soma("export", "--quiet")
    assert exported.code == 0, exported.err
    (record,) = [json.loads(line, parse_constant=float) for line in exported.out.splitlines()]
    assert (record["coord"], record["payload"]) == ([1.0], {"text": "kept"})
