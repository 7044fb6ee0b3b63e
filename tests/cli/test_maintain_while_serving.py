"""Maintenance and key rotation while `soma serve` writes to the same embedded SQLite file (two processes):
a write of the server that lands between the pass's reading of a memory and its write is not lost. The
server's write is made from inside the pass's decision (the ``change`` function, the condition, the
rewrite), so it always lands in that window. PostgreSQL: tests/integration/test_maintenance_races_postgres.py.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import TOKEN

from somafractalmemory.adapters.memory_cache import MemoryCache
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.cli.server_process import ServerProcess
from somafractalmemory.core.audit import AuditAction
from somafractalmemory.core.consolidation import CONSOLIDATED_INTO, CONSOLIDATED_LINK, Consolidating
from somafractalmemory.core.decay import DecayRule, Forgetting
from somafractalmemory.core.field_encryption import FieldEncryption, new_key, parse_keys
from somafractalmemory.core.key_rotation import Rotation, rotate_namespace
from somafractalmemory.core.maintenance import Maintenance, MaintenancePolicy, MaintenanceSummary
from somafractalmemory.core.models import Memory
from somafractalmemory.core.service import REVISE_ATTEMPTS, MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder
from support.interleaving import T0, Clock, hook_delete_if, hook_revise, hook_rewrite

OLD_KEY, NEW_KEY = new_key(), new_key()
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`soma serve` on the embedded default, encrypting 'secret' under the old key."""
    data_dir = tmp_path_factory.mktemp("serving")
    environment = {
        "SOMA_RATE_LIMIT_PER_MINUTE": "0",
        "SOMA_ENCRYPTED_FIELDS": "secret",
        "SOMA_ENCRYPTION_KEYS": OLD_KEY,
    }
    with (
        (data_dir.parent / "serving.log").open("wb") as log,
        ServerProcess(data_dir, token=TOKEN, environment=environment, log=log) as served,
    ):
        yield served


@pytest.fixture
def service(server: ServerProcess, tmp_path: Path) -> Iterator[MemoryService]:
    """This process's service on the server's SQLite file (its own connection and vector file)."""
    opened = MemoryService(
        SQLiteStore(server.data_dir / "memories.sqlite"),
        NumpyIndex(tmp_path / "vectors.sqlite", 384),
        HashingEmbedder(384),
        MemoryCache(),
        clock=Clock(),
        encryption=FieldEncryption(frozenset({"secret"}), tuple(parse_keys([NEW_KEY, OLD_KEY]))),
    )
    yield opened
    for backend in opened.backends():
        backend.close()


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:12]}"


def served_put(server: ServerProcess, namespace: str, coord: str, payload: dict[str, Any]) -> None:
    """The server stores a memory (its clock: now, so a new updated_at)."""
    answer = httpx.put(
        f"{server.url}/v1/namespaces/{namespace}/memories/{coord}", json={"payload": payload}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text


def served_importance(server: ServerProcess, namespace: str, coord: str, importance: float) -> None:
    answer = httpx.put(
        f"{server.url}/v1/namespaces/{namespace}/memories/{coord}/importance",
        json={"importance": importance},
        headers=AUTH,
    )
    assert answer.status_code == 200, answer.text


def store(service: MemoryService, namespace: str, coord: float, payload: dict[str, Any], at: float) -> None:
    service.clock.now = at  # type: ignore[attr-defined]
    service.store_memory(namespace, NewMemory((coord,), payload))


def current(service: MemoryService, namespace: str, coord: float) -> Memory:
    found = service.store.get(namespace, (coord,))
    assert found is not None
    return service.encryption.memory(found)


def test_a_write_of_the_server_during_decay_is_decayed_not_overwritten(
    server: ServerProcess, service: MemoryService, namespace: str
) -> None:
    store(service, namespace, 1.0, {"text": "as read", "scratch": "x"}, T0)
    service.clock.now = T0 + 1000  # type: ignore[attr-defined]
    ran = hook_revise(
        service, lambda _: served_put(server, namespace, "1", {"text": "the API's", "scratch": "y"}), 1
    )
    policy = MaintenancePolicy(decay=(DecayRule(0, ("scratch",)),))
    done = Maintenance(service, policy).run([namespace], dry_run=False)
    assert ran == [1]
    assert done == MaintenanceSummary(namespaces=1, decayed=1, retried=1)
    assert current(service, namespace, 1.0).payload == {"text": "the API's"}  # decided again on it
    assert [v.payload for v in service.versions(namespace, (1.0,))] == [
        {"text": "the API's", "scratch": "y"},
        {"text": "as read", "scratch": "x"},
    ]


def test_a_memory_the_server_keeps_writing_is_skipped_after_the_last_reading(
    server: ServerProcess, service: MemoryService, namespace: str
) -> None:
    store(service, namespace, 1.0, {"text": "as read", "scratch": "x"}, T0)
    service.clock.now = T0 + 1000  # type: ignore[attr-defined]
    ran = hook_revise(
        service, lambda n: served_put(server, namespace, "1", {"text": f"write {n}", "scratch": "y"}), 99
    )
    policy = MaintenancePolicy(decay=(DecayRule(0, ("scratch",)),))
    done = Maintenance(service, policy).run([namespace], dry_run=False)
    assert ran == list(range(1, REVISE_ATTEMPTS + 1)) == [1, 2, 3]
    assert done == MaintenanceSummary(namespaces=1, decayed=0, retried=2, skipped=1)
    assert current(service, namespace, 1.0).payload == {"text": "write 3", "scratch": "y"}


def test_a_memory_the_server_made_important_during_forgetting_stays(
    server: ServerProcess, service: MemoryService, namespace: str
) -> None:
    store(service, namespace, 1.0, {"text": "low", "importance": 0.1}, T0)
    service.clock.now = T0 + 1000  # type: ignore[attr-defined]
    ran = hook_delete_if(service, lambda: served_importance(server, namespace, "1", 0.9))
    policy = MaintenancePolicy(forgetting=Forgetting(0.5, 0))
    done = Maintenance(service, policy).run([namespace], dry_run=False)
    assert ran == [1]
    assert done == MaintenanceSummary(namespaces=1, forgotten=0, retried=1)
    assert current(service, namespace, 1.0).importance == 0.9


def test_a_source_the_server_rewrote_during_consolidation_is_summarised_as_rewritten(
    server: ServerProcess, service: MemoryService, namespace: str
) -> None:
    store(service, namespace, 1.0, {"text": "first"}, T0)
    store(service, namespace, 2.0, {"text": "second"}, T0 + 1)
    service.clock.now = T0 + 1000  # type: ignore[attr-defined]
    hook_revise(service, lambda _: served_put(server, namespace, "2", {"text": "second, corrected"}), 1)
    policy = MaintenancePolicy(consolidating=Consolidating(100))
    done = Maintenance(service, policy).run([namespace], dry_run=False)
    assert done == MaintenanceSummary(namespaces=1, consolidated=2, created=1, retried=1)
    source = current(service, namespace, 2.0)
    assert source.payload["text"] == "second, corrected"
    semantic = tuple(source.payload[CONSOLIDATED_INTO])
    assert service.get(namespace, semantic).payload["texts"] == ["first", "second, corrected"]
    links = service.neighbors(namespace, semantic)
    assert [(link.target, link.link_type) for link in links] == [
        ((1.0,), CONSOLIDATED_LINK),
        ((2.0,), CONSOLIDATED_LINK),
    ]
    audited = [(e.action.value, e.coordinate, e.target) for e in service.audit(namespace, None, 10, None)]
    assert sorted(e for e in audited if e[0] == "link") == [
        ("link", semantic, (1.0,)),
        ("link", semantic, (2.0,)),
    ]


def test_rotation_rotates_what_the_server_wrote_meanwhile_and_keeps_its_semantics(
    server: ServerProcess, service: MemoryService, namespace: str
) -> None:
    served_put(server, namespace, "1", {"text": "one", "secret": "as read"})
    before = service.store.get(namespace, (1.0,))
    assert before is not None
    written: list[Memory] = []

    def write() -> None:
        served_put(server, namespace, "1", {"text": "one", "secret": "written meanwhile"})
        written.extend(filter(None, [service.store.get(namespace, (1.0,))]))

    ran = hook_rewrite(service, write)
    audit_before = service.audit(namespace, None, 100, None)
    rotation = rotate_namespace(service, namespace)
    assert ran == [1]
    assert rotation == Rotation(memories=1, memories_rotated=1, versions=0, versions_rotated=1, retried=1)
    after = service.store.get(namespace, (1.0,))
    assert after is not None
    assert service.encryption.memory(after).payload == {"text": "one", "secret": "written meanwhile"}
    assert (after.created_at, after.updated_at) == (before.created_at, written[0].updated_at)  # the server's
    only_new = FieldEncryption(frozenset({"secret"}), tuple(parse_keys([NEW_KEY])))
    assert only_new.memory(after).payload["secret"] == "written meanwhile"  # under the new key
    versions = service.store.versions(namespace, (1.0,))
    assert [only_new.open(v.payload, "v")["secret"] for v in versions] == ["as read"]  # rotated on retry
    audit_after = service.audit(namespace, None, 100, None)
    assert [e.action for e in audit_after[:1]] == [AuditAction.STORE]  # the server's write, none of rotation
    assert audit_after[1:] == audit_before
    assert rotate_namespace(service, namespace) == Rotation(memories=1, versions=1)
