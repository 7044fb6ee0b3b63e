"""soma audit, the same in both modes: embedded (attributed to local:USER) and over --url (to the
token's id)."""

import getpass
import hashlib
import json

from cli_harness import TOKEN, Soma


def test_the_log_names_the_actor_and_pages(soma: Soma) -> None:
    soma.ok("store", "1", json.dumps({"text": "a"}))
    soma.ok("set-importance", "1", "0.8")
    soma.ok("delete", "1")
    expected_actor = (
        "token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:16]
        if soma.mode == "http"
        else "local:" + getpass.getuser()
    )
    entries = soma.ok("audit")["entries"]
    assert [(e["action"], e["coord"], e["actor"]) for e in entries] == [
        ("delete", [1.0], expected_actor),
        ("set_importance", [1.0], expected_actor),
        ("store", [1.0], expected_actor),
    ]
    page = soma.ok("audit", "--limit", "2")
    assert page["next_before"] == entries[1]["entry"]
    rest = soma.ok("audit", "--limit", "2", "--before", str(page["next_before"]))
    assert ([e["action"] for e in rest["entries"]], rest["next_before"]) == (["store"], None)
    assert soma.ok("audit", "--coord", "2") == {"entries": [], "next_before": None}


def test_a_page_is_at_most_1000(soma: Soma) -> None:
    refused = soma("audit", "--limit", "1001")
    assert refused.code == 2
    assert "must be at most 1000, got 1001" in refused.err
