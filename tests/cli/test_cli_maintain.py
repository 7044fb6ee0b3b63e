"""soma maintain, replay and reflect, the same embedded and over --url (a server started with the same
maintenance settings). Memories are imported with old timestamps, so every rule applies at once; the
boundaries of each rule are pinned by tests/api/test_maintenance.py."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import TOKEN, Soma, run_soma

from somafractalmemory.cli.server_process import ServerProcess

HOUR = 3600.0
OLD = 400_000 * HOUR  # the start of a window of an hour, in 2015
POLICY = {
    "SOMA_DECAY_RULES": json.dumps([{"after_seconds": HOUR, "drop": ["scratch"]}]),
    "SOMA_FORGET_BELOW_IMPORTANCE": "0.3",
    "SOMA_FORGET_AFTER_SECONDS": str(HOUR),
    "SOMA_CONSOLIDATION_WINDOW_SECONDS": str(HOUR),
}
MEMORIES = [
    {"coord": [1], "payload": {"text": "opened the ticket", "scratch": "x"}, "created_at": OLD},
    {"coord": [2], "payload": {"text": "fixed the bug"}, "created_at": OLD + 60},
    {"coord": [3], "payload": {"text": "noise"}, "importance": 0.1, "created_at": OLD + 120},
    {"coord": [4], "payload": {"text": "alone"}, "importance": 0.9, "created_at": OLD + 2 * HOUR},
]


@pytest.fixture(scope="module")
def maintaining_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("maintaining")
    environment = {"SOMA_RATE_LIMIT_PER_MINUTE": "0", **POLICY}
    with (
        (data_dir.parent / "maintaining.log").open("wb") as log,
        ServerProcess(data_dir, token=TOKEN, environment=environment, log=log) as server,
    ):
        yield server


@pytest.fixture(params=["embedded", "http"])
def soma(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Soma:
    """The CLI on a fresh namespace with the maintenance POLICY: embedded, or over --url."""
    where = ["--namespace", f"ns-{uuid.uuid4().hex[:12]}"]
    if request.param == "http":
        server: ServerProcess = request.getfixturevalue("maintaining_server")
        monkeypatch.setenv("SOMA_API_TOKEN", TOKEN)
        where += ["--url", server.url]
    else:
        for name, value in POLICY.items():
            monkeypatch.setenv(name, value)
        where += ["--data-dir", str(tmp_path / "data")]
    return Soma(request.param, where, capsys)


def imported(soma: Soma) -> None:
    lines = "".join(json.dumps({"kind": "memory", **m}) + "\n" for m in MEMORIES)
    result = soma("import", "-", stdin=lines.encode())
    assert result.code == 0, result.err
    assert result.json["memories"] == 4


def test_maintain_forgets_decays_and_consolidates_once(soma: Soma) -> None:
    imported(soma)
    expected = {"namespaces": 1, "decayed": 1, "forgotten": 1, "consolidated": 2, "created": 1}
    expected |= {"retried": 0, "skipped": 0}
    assert soma.ok("maintain", "--dry-run") == {**expected, "dry_run": True}
    assert soma.ok("get", "1")["payload"] == {"text": "opened the ticket", "scratch": "x"}
    result = soma("maintain")
    assert result.code == 0, result.err
    assert result.json == {**expected, "dry_run": False}
    if soma.mode == "embedded":
        assert "forgot 1, decayed 1, consolidated 2 into 1" in result.err
    assert soma("get", "3").code == 1
    (semantic,) = soma.ok("reflect")["results"]
    assert semantic["payload"]["texts"] == ["opened the ticket", "fixed the bug"]
    assert soma.ok("get", "1")["payload"] == {
        "text": "opened the ticket",
        "consolidated_into": semantic["coord"],
    }
    assert [(v["number"], v["payload"]) for v in soma.ok("versions", "1")["versions"]] == [
        (2, {"text": "opened the ticket"}),
        (1, {"text": "opened the ticket", "scratch": "x"}),
    ]
    entries = soma.ok("audit", "--coord", "1")["entries"]
    assert [e["action"] for e in entries if e["action"] != "link"] == [
        "consolidate",
        "decay",
        "import",
    ]
    again = soma.ok("maintain")
    assert (again["decayed"], again["forgotten"], again["consolidated"], again["created"]) == (0, 0, 0, 0)


def test_replay_lists_the_most_important_episodic_memories(soma: Soma) -> None:
    imported(soma)
    assert [m["coord"] for m in soma.ok("replay")["results"]] == [[4.0], [2.0], [1.0], [3.0]]
    assert [m["coord"] for m in soma.ok("replay", "--limit", "1")["results"]] == [[4.0]]
    assert soma.ok("reflect")["results"] == []
    refused = soma("replay", "--limit", "0")
    assert (refused.code, "must be at least 1, got 0" in refused.err) == (2, True)


def test_without_namespace_every_namespace_is_maintained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in POLICY.items():
        monkeypatch.setenv(name, value)
    data = ["--data-dir", str(tmp_path / "data")]
    line = json.dumps({"kind": "memory", **MEMORIES[0]}) + "\n"
    for namespace in ("a", "b"):
        stored = run_soma(["import", *data, "--namespace", namespace, "-"], capsys, line.encode())
        assert stored.code == 0, stored.err
    result = run_soma(["maintain", *data, "-q"], capsys)
    assert result.code == 0, result.err
    assert (result.json["namespaces"], result.json["decayed"], result.err) == (2, 2, "")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[{", "SOMA_DECAY_RULES is not valid JSON"),
        ('{"after_seconds": 1}', "SOMA_DECAY_RULES must be a JSON list like"),
        ('[{"after_seconds": -1, "drop": ["a"]}]', "SOMA_DECAY_RULES[0].after_seconds must be a number"),
        ('[{"after_seconds": 1, "drop": []}]', "SOMA_DECAY_RULES[0].drop must be a non-empty list"),
        (
            '[{"after": 1, "drop": ["a"]}]',
            'SOMA_DECAY_RULES[0] must be an object with exactly "after_seconds"',
        ),
    ],
)
def test_bad_decay_rules_are_a_clear_error(
    value: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOMA_DECAY_RULES", value)
    result = run_soma(["maintain", "--data-dir", str(tmp_path)], capsys)
    assert result.code == 2
    assert result.err.startswith("soma maintain: error: invalid setting: decay_rules: Value error, ")
    assert message in result.err


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SOMA_FORGET_BELOW_IMPORTANCE",
            "1.5",
            "forget_below_importance: Input should be less than or equal to 1",
        ),
        ("SOMA_CONSOLIDATION_WINDOW_SECONDS", "-1", "consolidation_window_seconds: Input should be greater"),
        ("SOMA_CONSOLIDATION_MIN_MEMORIES", "0", "consolidation_min_memories: Input should be greater"),
    ],
)
def test_bad_maintenance_numbers_are_a_clear_error(
    name: str, value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv(name, value)
    result = run_soma(["maintain", "--data-dir", str(tmp_path)], capsys)
    assert (result.code, message in result.err) == (2, True), result.err


def test_a_server_with_bad_decay_rules_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOMA_DECAY_RULES", "nope")
    result = run_soma(["serve", "--data-dir", str(tmp_path), "--port", "1"], capsys)
    assert result.code == 2
    assert (
        "soma serve: error: invalid setting: decay_rules: Value error, SOMA_DECAY_RULES is not valid JSON"
        in result.err
    )
