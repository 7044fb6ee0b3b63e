"""soma set-importance, report-outcome, recent and important, the same in both modes."""

import json

from cli_harness import Soma


def test_set_importance_and_the_important_list(soma: Soma) -> None:
    soma.ok("store", "1", json.dumps({"text": "a"}))
    soma.ok("store", "2", json.dumps({"text": "b", "importance": 0.7}))
    assert soma.ok("set-importance", "1", "0.9")["importance"] == 0.9
    listed = soma.ok("important", "--limit", "2")["results"]
    assert [(m["coord"], m["importance"]) for m in listed] == [([1.0], 0.9), ([2.0], 0.7)]


def test_recent_lists_last_written_first_of_a_type(soma: Soma) -> None:
    soma.ok("store", "1", json.dumps({"text": "a"}), "--type", "semantic")
    soma.ok("store", "2", json.dumps({"text": "b"}))
    soma.ok("store", "3", json.dumps({"text": "c"}), "--type", "semantic")
    assert [m["coord"] for m in soma.ok("recent")["results"]] == [[3.0], [2.0], [1.0]]
    assert [m["coord"] for m in soma.ok("recent", "--type", "semantic", "--limit", "1")["results"]] == [[3.0]]


def test_report_outcome_of_a_misprediction(soma: Soma) -> None:
    soma.ok("store", "1", json.dumps({"text": "rain tomorrow", "predicted_outcome": "rain"}))
    report = soma.ok("report-outcome", "1", "sun")
    assert report["mispredicted"] is True
    assert report["memory"]["importance"] == 0.4
    assert report["memory"]["payload"]["reported_outcome"] == "sun"
    assert (
        report["corrective"]["payload"]["fact"] == "prediction mismatch at [1.0]: expected 'rain', got 'sun'"
    )
    same = soma.ok("report-outcome", "1", '{"sky": "clear"}')
    assert same["memory"]["payload"]["reported_outcome"] == {"sky": "clear"}


def test_bad_values_are_usage_errors(soma: Soma) -> None:
    for arguments in (
        ("set-importance", "1", "1.5"),
        ("recent", "--limit", "1001"),
        ("important", "--limit", "0"),
    ):
        refused = soma(*arguments)
        assert refused.code == 2, arguments
    assert "must be from 0 to 1, got 1.5" in soma("set-importance", "1", "1.5").err
    assert "must be at most 1000, got 1001" in soma("recent", "--limit", "1001").err
    missing = soma("set-importance", "9", "0.5")
    assert missing.code == 1
    assert "no memory at coordinate [9.0]" in missing.err
