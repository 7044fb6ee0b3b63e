"""Deterministic, realistic memories and queries for the benchmark: a sentence or two of varied text
and a few metadata fields, all drawn from one seeded generator."""

import random

from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.service import NewMemory

SUBJECTS = [
    "Ana", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena",
    "the data team", "the support lead", "our biggest customer", "the new intern", "the on-call engineer",
    "the finance office", "the design group", "the research lab",
]  # fmt: skip
VERBS = [
    "asked about", "complained about", "fixed", "reviewed", "postponed", "approved", "rejected",
    "documented", "measured", "migrated", "benchmarked", "rewrote", "tested", "shipped", "discussed",
    "estimated", "cancelled", "prioritised", "investigated", "presented",
]  # fmt: skip
OBJECTS = [
    "the quarterly budget", "the login outage", "the vector index", "the billing export",
    "the onboarding guide", "the search latency", "the Kubernetes upgrade", "the holiday schedule",
    "the database backup", "the mobile release", "the pricing page", "the security audit",
    "the customer survey", "the invoice template", "the cache eviction bug", "the API rate limits",
    "the payroll run", "the hiring plan", "the office move", "the recommendation model",
]  # fmt: skip
PLACES = [
    "in Lisbon", "during the standup", "on a late call", "over lunch", "in the retro", "by email",
    "in the planning meeting", "on the train", "at the offsite", "in a hallway chat",
]  # fmt: skip
FOLLOW_UPS = [
    "It needs an answer by Friday.", "Nobody owns it yet.", "The numbers looked better than expected.",
    "We agreed to revisit it next sprint.", "A ticket was opened.", "It blocks the release.",
    "The customer was happy with the result.", "It cost more than planned.",
]  # fmt: skip
SOURCES = ["chat", "email", "meeting", "note", "ticket"]
USERS = 50
COORDINATE_SPREAD = 1000.0


class Workload:
    """Memories with fresh coordinates and queries in the same vocabulary, the same for the same seed."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._count = 0

    def _sentence(self) -> str:
        pick = self._random.choice
        text = f"{pick(SUBJECTS)} {pick(VERBS)} {pick(OBJECTS)} {pick(PLACES)}."
        if self._random.random() < 0.6:
            text += " " + pick(FOLLOW_UPS)
        return text

    def memory(self) -> NewMemory:
        self._count += 1
        spread = self._random.uniform
        coordinate = (float(self._count), spread(0, COORDINATE_SPREAD), spread(0, COORDINATE_SPREAD))
        payload = {
            "text": self._sentence(),
            "source": self._random.choice(SOURCES),
            "user": f"user-{self._random.randrange(USERS)}",
            "importance": round(self._random.random(), 2),
        }
        kind = MemoryType.SEMANTIC if self._random.random() < 0.3 else MemoryType.EPISODIC
        return NewMemory(coordinate, payload, kind)

    def memories(self, count: int) -> list[NewMemory]:
        return [self.memory() for _ in range(count)]

    def query(self) -> str:
        pick = self._random.choice
        return f"what did {pick(SUBJECTS)} say about {pick(OBJECTS)}"
