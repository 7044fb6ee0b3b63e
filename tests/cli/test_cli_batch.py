"""soma delete-many and soma share, the same in both modes."""

import json

from cli_harness import Soma


def test_delete_many_dry_run_then_for_real(soma: Soma) -> None:
    soma.ok("store", "1", json.dumps({"text": "a", "source": "ticket"}))
    soma.ok("store", "2", json.dumps({"text": "b", "source": "note"}))
    dry = soma.ok("delete-many", "--filter", '{"source": "ticket"}', "--dry-run")
    assert dry == {"matched": 1, "coords": [[1.0]], "applied": 0, "dry_run": True}
    assert soma.ok("stats")["total_memories"] == 2
    done = soma.ok("delete-many", "--filter", '{"source": "ticket"}')
    assert done == {"matched": 1, "coords": [[1.0]], "applied": 1, "dry_run": False}
    assert soma.ok("stats")["total_memories"] == 1


def test_share_copies_into_another_namespace(soma: Soma) -> None:
    soma.ok("store", "1", json.dumps({"text": "a"}), "--type", "semantic")
    soma.ok("store", "2", json.dumps({"text": "b"}))
    target = soma.where[1] + "-shared"
    answer = soma.ok("share", "--to", target, "--type", "semantic")
    assert answer == {"matched": 1, "coords": [[1.0]], "applied": 1, "dry_run": False}
    copied = soma.ok("get", "1", "--namespace", target)  # the last --namespace wins
    assert copied["payload"] == {"text": "a"}


def test_a_change_to_many_needs_a_filter_or_a_type(soma: Soma) -> None:
    refused = soma("delete-many")
    assert refused.code == 2  # InvalidInput: a usage error
    assert "never applies to a whole namespace by default" in refused.err
