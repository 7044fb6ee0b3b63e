"""Converts LoCoMo (snap-research/locomo, "Evaluating Very Long-Term Conversational Memory of LLM Agents",
ACL 2024) into the JSONL dataset ``soma eval`` reads. Run from the repository root:

    .venv/bin/python bench/locomo_to_eval.py locomo10.json > locomo.jsonl
    .venv/bin/python bench/locomo_to_eval.py 26.json 30.json ... > locomo.jsonl   # one file a conversation

Each input holds one conversation or a list of them (``sample_id``, ``conversation`` with ``session_N``
lists of turns, ``qa``); a conversation's sessions may also sit at its top level. Every dialog turn becomes
one memory, id ``<conversation>:<dia_id>``, text ``speaker: text``. Every question becomes one query whose
relevant ids are its evidence turns. Left out: adversarial questions (category 5: the answer is not in
the conversation), evidence ids that name no turn, and the questions left with no evidence.
"""

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ADVERSARIAL = 5
SESSION = re.compile(r"^session_\d+$")


def conversations(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    for sample in data if isinstance(data, list) else [data]:
        yield str(sample.get("sample_id", path.stem)), sample


def convert(name: str, sample: dict[str, Any]) -> Iterator[dict[str, Any]]:
    sessions = sample.get("conversation", sample)
    turns = {}
    for key, value in sessions.items():
        if SESSION.match(key) and isinstance(value, list):
            for turn in value:
                turns[turn["dia_id"]] = f"{turn['speaker']}: {turn['text']}"
    for dia_id, text in turns.items():
        yield {"type": "memory", "id": f"{name}:{dia_id}", "text": text}
    for qa in sample["qa"]:
        relevant = sorted({f"{name}:{ev}" for ev in qa.get("evidence") or [] if ev in turns})
        if qa.get("category") != ADVERSARIAL and relevant:
            yield {"type": "query", "query": qa["question"], "relevant": relevant}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("inputs", nargs="+", type=Path, help="LoCoMo JSON files")
    parser.add_argument("--conversations", type=int, default=None, help="keep only the first N conversations")
    parser.add_argument("--queries", type=int, default=None, help="keep only the first N queries of each")
    args = parser.parse_args()
    samples = [sample for path in args.inputs for sample in conversations(path)]
    for name, sample in samples[: args.conversations]:
        queries = 0
        for record in convert(name, sample):
            if record["type"] == "query":
                queries += 1
                if args.queries is not None and queries > args.queries:
                    continue
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
