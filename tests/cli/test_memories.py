"""Memory and graph commands, the same in both modes: embedded store and a running API."""

import json

import pytest
from cli_harness import Soma

ANA = json.dumps({"text": "Ana approved the quarterly budget in Lisbon", "source": "meeting"})
BRUNO = json.dumps({"text": "Bruno fixed the login outage during the night", "source": "ticket"})
CHEN = json.dumps({"text": "Chen wrote the onboarding guide for new hires", "source": "note"})
MEMORY_KEYS = {
    "namespace",
    "coord",
    "payload",
    "type",
    "importance",
    "created_at",
    "updated_at",
    "access_count",
    "embedder",
}
LINK_KEYS = {"from", "to", "type", "weight", "created_at"}


def test_store_get_recall_delete(soma: Soma) -> None:
    stored = soma.ok("store", "1,2,3", ANA)
    soma.ok("store", "4,5,6", BRUNO, "--type", "semantic")
    assert set(stored) == MEMORY_KEYS
    assert stored["coord"] == [1.0, 2.0, 3.0]
    assert soma.ok("get", "4,5,6")["type"] == "semantic"

    found = soma.ok("recall", "quarterly budget Lisbon", "--top-k", "1")
    assert [set(hit) for hit in found["results"]] == [{"memory", "score"}]
    assert found["results"][0]["memory"]["coord"] == [1.0, 2.0, 3.0]

    assert soma.ok("delete", "1,2,3") == {"deleted": True, "coord": [1.0, 2.0, 3.0]}
    recalled = soma.ok("recall", "quarterly budget Lisbon", "--top-k", "5")
    assert [hit["memory"]["coord"] for hit in recalled["results"]] == [[4.0, 5.0, 6.0]]
    missing = soma("get", "1,2,3")
    assert missing.code == 1
    assert "no memory at coordinate" in missing.err


def test_delete_of_nothing_says_so(soma: Soma) -> None:
    result = soma("delete", "7,7,7")
    assert result.code == 1
    assert result.json == {"deleted": False, "coord": [7.0, 7.0, 7.0]}
    assert "no memory at 7.0,7.0,7.0" in result.err


def test_recall_filters_and_hybrid(soma: Soma) -> None:
    soma.ok("store", "1,2,3", ANA)
    soma.ok("store", "4,5,6", BRUNO)
    soma.ok("store", "7,8,9", CHEN, "--type", "semantic")
    by_source = soma.ok("recall", "what happened", "--filter", '{"source": "ticket"}')
    assert [hit["memory"]["coord"] for hit in by_source["results"]] == [[4.0, 5.0, 6.0]]
    by_type = soma.ok("recall", "what happened", "--type", "semantic")
    assert [hit["memory"]["coord"] for hit in by_type["results"]] == [[7.0, 8.0, 9.0]]
    hybrid = soma.ok("recall", "guide", "--term", "onboarding", "--top-k", "1")
    assert hybrid["results"][0]["memory"]["coord"] == [7.0, 8.0, 9.0]


def test_remember_assigns_a_coordinate(soma: Soma) -> None:
    remembered = soma.ok("remember", CHEN)
    assert len(remembered["coord"]) == 3
    coordinate = ",".join(repr(x) for x in remembered["coord"])
    assert soma.ok("get", coordinate)["payload"] == json.loads(CHEN)


def test_range_and_stats(soma: Soma) -> None:
    soma.ok("store", "1,1,1", ANA)
    soma.ok("store", "2,2,2", BRUNO, "--type", "semantic")
    soma.ok("store", "9,9,9", CHEN)
    assert soma.ok("range", "0,0,0", "5,5,5") == {"coords": [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]}
    assert soma.ok("range", "0,0,0", "5,5,5", "--type", "semantic") == {"coords": [[2.0, 2.0, 2.0]]}
    assert soma.ok("stats") == {
        "total_memories": 3,
        "episodic": 2,
        "semantic": 1,
        "embedders": {"hashing:rules-1b13d4b8:384": 3},
    }


def test_link_neighbors_path(soma: Soma) -> None:
    for coord, payload in (("1", ANA), ("2", BRUNO), ("3", CHEN)):
        soma.ok("store", coord, payload)
    link = soma.ok("link", "1", "2", "--weight", "2.5", "--link-type", "follows")
    assert set(link) == LINK_KEYS
    assert (link["from"], link["to"], link["type"], link["weight"]) == ([1.0], [2.0], "follows", 2.5)
    soma.ok("link", "2", "3")
    neighbors = soma.ok("neighbors", "1")
    assert [(n["to"], n["type"]) for n in neighbors["links"]] == [([2.0], "follows")]
    assert soma.ok("neighbors", "1", "--link-type", "related") == {"links": []}
    assert soma.ok("path", "1", "3") == {"path": [[1.0], [2.0], [3.0]], "found": True}
    assert soma.ok("path", "3", "1") == {"path": [], "found": False}
    unknown = soma("path", "1", "42")
    assert unknown.code == 1
    assert "to node [42.0] is not a memory" in unknown.err


def test_namespaces_are_apart(soma: Soma) -> None:
    soma.ok("store", "1,2,3", ANA)
    assert soma.ok("stats", "--namespace", "elsewhere")["total_memories"] == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["store", "1,,3", ANA], "has an empty component"),
        (["store", "1,x", ANA], "is not a number"),
        (["store", "1,2", "[1, 2]"], "must be a JSON object"),
        (["store", "1,2", "{not json"], "not valid JSON"),
        (["store", "1,2", ANA, "--type", "dream"], "invalid choice: 'dream'"),
        (["recall", "x", "--top-k", "0"], "must be at least 1"),
        (["recall", "x", "--filter", '{"n": {"$near": 1}}'], "unknown filter operator '$near'"),
        (["recall", "   "], "query must be a non-empty string"),
        (["recall", "x", "--top-k", "5000"], "1000"),
        (["range", "0,0", "1,1,1"], "give both the same"),
        (["link", "1", "2", "--weight", "-1"], "weight must not be negative"),
    ],
)
def test_bad_input_exits_2_with_a_message(soma: Soma, arguments: list[str], message: str) -> None:
    soma.ok("store", "1", ANA)
    soma.ok("store", "2", BRUNO)
    result = soma(*arguments)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err
    assert result.out == ""


def test_payload_from_stdin(soma: Soma) -> None:
    result = soma("store", "5", "-", stdin=CHEN.encode())
    assert result.code == 0, result.err
    assert result.json["payload"] == json.loads(CHEN)
