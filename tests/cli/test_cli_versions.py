"""soma versions and soma restore-version, the same in both modes: embedded store and a running API."""

import json

from cli_harness import Soma


def test_history_and_restore(soma: Soma) -> None:
    first = soma.ok("store", "1,2", json.dumps({"text": "draft"}))
    second = soma.ok("store", "1,2", json.dumps({"text": "final"}), "--type", "semantic")
    listed = soma.ok("versions", "1,2")
    assert listed == {
        "namespace": soma.where[1],
        "coord": [1.0, 2.0],
        "versions": [
            {
                "number": 1,
                "payload": {"text": "draft"},
                "type": "episodic",
                "importance": 0.5,
                "updated_at": first["updated_at"],
                "replaced_at": second["updated_at"],
            }
        ],
    }
    restored = soma.ok("restore-version", "1,2", "1")
    assert (restored["payload"], restored["type"]) == ({"text": "draft"}, "episodic")
    assert soma.ok("get", "1,2")["payload"] == {"text": "draft"}
    history = soma.ok("versions", "1,2")["versions"]
    assert [(v["number"], v["payload"]["text"]) for v in history] == [(2, "final"), (1, "draft")]


def test_an_unknown_version_or_memory_fails_with_the_reason(soma: Soma) -> None:
    soma.ok("store", "1,2", json.dumps({"text": "only"}))
    unknown = soma("restore-version", "1,2", "3")
    assert unknown.code == 1
    assert f"memory [1.0, 2.0] in namespace {soma.where[1]!r} has no version 3 (kept: none)" in unknown.err
    missing = soma("versions", "9,9")
    assert missing.code == 1
    assert f"no memory at coordinate [9.0, 9.0] in namespace {soma.where[1]!r}" in missing.err


def test_a_version_number_is_a_positive_integer(soma: Soma) -> None:
    refused = soma("restore-version", "1,2", "0")
    assert refused.code == 2
    assert "argument NUMBER" in refused.err
