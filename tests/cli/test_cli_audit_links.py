"""soma link in the audit log, the same in both modes: a `link` entry naming both memories, attributed
to local:USER embedded and to the token's id over --url, and listed in the log of either memory."""

import getpass
import hashlib
import json

from cli_harness import TOKEN, Soma


def test_a_link_is_logged_with_both_memories_and_its_actor(soma: Soma) -> None:
    soma.ok("store", "1", json.dumps({"text": "a"}))
    soma.ok("store", "2", json.dumps({"text": "b"}))
    soma.ok("link", "1", "2", "--link-type", "cites")
    actor = (
        "token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:16]
        if soma.mode == "http"
        else "local:" + getpass.getuser()
    )
    entries = soma.ok("audit")["entries"]
    assert [(e["action"], e["coord"], e["to"], e["actor"]) for e in entries] == [
        ("link", [1.0], [2.0], actor),
        ("store", [2.0], None, actor),
        ("store", [1.0], None, actor),
    ]
    to_two = soma.ok("audit", "--coord", "2")["entries"]
    assert [(e["action"], e["coord"], e["to"]) for e in to_two] == [
        ("link", [1.0], [2.0]),
        ("store", [2.0], None),
    ]
