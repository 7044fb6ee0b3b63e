"""bench/locomo_to_eval.py: LoCoMo conversations into soma eval's JSONL."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = {
    "sample_id": "conv-7",
    "conversation": {
        "speaker_a": "Ana",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a cat."},
            {"speaker": "Bo", "dia_id": "D1:2", "text": "What is its name?", "img_url": ["x"]},
        ],
        "session_2": [{"speaker": "Ana", "dia_id": "D2:1", "text": "Pixel, she is grey."}],
    },
    "qa": [
        {"question": "What pet did Ana adopt?", "evidence": ["D1:1"], "category": 1},
        {"question": "What is the cat called?", "evidence": ["D2:1", "D9:9", "D1:2"], "category": 2},
        {"question": "What did Bo adopt?", "evidence": ["D1:1"], "category": 5},
        {"question": "Why?", "evidence": [], "category": 3},
        {"question": "When?", "evidence": ["D8:1"], "category": 2},
    ],
}


def convert(tmp_path: Path, data: object, *options: str) -> list[dict[str, object]]:
    source = tmp_path / "locomo.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "locomo_to_eval.py"), str(source), *options],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_turns_become_memories_and_answerable_questions_queries(tmp_path: Path) -> None:
    assert convert(tmp_path, [SAMPLE]) == [
        {"type": "memory", "id": "conv-7:D1:1", "text": "Ana: I adopted a cat."},
        {"type": "memory", "id": "conv-7:D1:2", "text": "Bo: What is its name?"},
        {"type": "memory", "id": "conv-7:D2:1", "text": "Ana: Pixel, she is grey."},
        {"type": "query", "query": "What pet did Ana adopt?", "relevant": ["conv-7:D1:1"]},
        # an evidence id naming no turn is dropped; adversarial, evidence-less and unanswerable ones left out
        {"type": "query", "query": "What is the cat called?", "relevant": ["conv-7:D1:2", "conv-7:D2:1"]},
    ]


def test_one_conversation_a_file_and_the_limits(tmp_path: Path) -> None:
    flat = {"speaker_a": "Ana", **SAMPLE["conversation"], "qa": SAMPLE["qa"]}  # type: ignore[dict-item]
    records = convert(tmp_path, flat, "--queries", "1")
    assert [record["id"] for record in records if record["type"] == "memory"] == [
        "locomo:D1:1",
        "locomo:D1:2",
        "locomo:D2:1",
    ]
    assert [record["query"] for record in records if record["type"] == "query"] == ["What pet did Ana adopt?"]
    assert convert(tmp_path, [SAMPLE, {**SAMPLE, "sample_id": "conv-8"}], "--conversations", "1") == convert(
        tmp_path, [SAMPLE]
    )
