"""A schema-driven fuzz of the published OpenAPI with every schemathesis check: never a 5xx, every status
and body documented, every request the schema allows accepted, every request it forbids refused, 405s
that name the path's methods, auth never ignored, and (statefully) a created memory readable, a deleted
one gone.

Examples are derandomised and few per operation, so the run is the same every time and stays short.
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_settings import AUTH, embedded_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, CheckFunction
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from somafractalmemory.http_api import create_app

EXAMPLES = 25
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
ALL_CHECKS = CHECKS.get_all()
# Rules no JSON Schema can state, because they relate two fields (min to max, queries to top_k): their
# 400s are the only refusals of schema-valid input, and each operation's description states them.
CROSS_FIELD_RULES = {
    "/range": ("give both the same", "every component of min must be at most the same component of max"),
    "/recall_batch": ("SOMA_MAX_BATCH_RESULTS",),
}
# Nor can a schema say "no NUL character in any string, however deep in a payload": text holds no NUL on
# any backend (PostgreSQL's text and jsonb cannot), and the payload's description says so.
EVERYWHERE_RULES = ("holds a NUL character",)
# Answers that do not refuse the data itself: auth, a missing memory, a conflict, the rate limit.
ACCEPTED_REFUSALS = {401, 403, 404, 409, 429}


@schemathesis.serializer("application/x-ndjson")
def ndjson_body(_: object, value: object) -> bytes:
    """Import bodies are NDJSON text: send what was generated as the raw stream."""
    return str(value).encode()


app = create_app(embedded_settings(Path(tempfile.mkdtemp(prefix="soma-fuzz-"))))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    """Enter the app's lifespan once, so every generated call meets connected backends."""
    with TestClient(app) as client:
        client.post("/store", json={"coord": "1,2,3", "payload": {"text": "seed"}}, headers=AUTH)
        yield


def unstated_rules(case: schemathesis.Case) -> tuple[str, ...]:
    cross_field = (rules for end, rules in CROSS_FIELD_RULES.items() if case.operation.path.endswith(end))
    return (*next(cross_field, ()), *EVERYWHERE_RULES)


def excluded_checks(case: schemathesis.Case) -> list[CheckFunction]:
    # Schema-valid data must be accepted: checked below, where a refusal may name only an unstated rule.
    excluded = [positive_data_acceptance]
    if case.operation.path.endswith("/import"):
        # Whatever is generated goes out as text, and any text is an NDJSON stream whose lines are each
        # reported on their own: there is no request body to refuse.
        excluded.append(negative_data_rejection)
    return excluded


@schema.parametrize()
@FUZZ_SETTINGS
def test_the_document_tells_the_truth(case: schemathesis.Case) -> None:
    response = case.call_and_validate(headers=AUTH, checks=ALL_CHECKS, excluded_checks=excluded_checks(case))
    valid = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if valid and response.status_code in (400, 422):
        message = response.json()["error"]["message"]
        assert any(rule in message for rule in unstated_rules(case)), response.text
    elif valid:  # what schemathesis's own check accepts for valid data
        assert response.status_code < 400 or response.status_code in ACCEPTED_REFUSALS, response.text


StatefulTest = schema.as_state_machine().TestCase
StatefulTest.settings = settings(
    max_examples=10,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
