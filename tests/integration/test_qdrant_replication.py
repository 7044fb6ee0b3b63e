"""Qdrant collections are created replicated as the operator asks (issue 8, finding 4).

qdrant-client's local mode accepts the replication settings but does not record them, so the calls the
real client receives are recorded on their way to it; the values come from the operator's ConfigMap.
"""

from typing import Any

import pytest
from qdrant_client import QdrantClient

from soma_operator.builders import BuildContext, Credentials, configmap
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem
from somafractalmemory import production_wiring
from somafractalmemory.adapters.qdrant_index import Replication, collection_settings
from somafractalmemory.settings import Settings


def settings_of_a_system_with(
    monkeypatch: pytest.MonkeyPatch, qdrant_replicas: int, shards: int | None = None
) -> Settings:
    qdrant: dict[str, Any] = {"replicas": qdrant_replicas}
    if shards is not None:
        qdrant["shards"] = shards
    body = {"metadata": {"name": "m", "uid": "u"}, "spec": {"qdrant": qdrant}}
    ctx = BuildContext(MemorySystem.from_body(body), OperatorConfig(), Credentials())
    [config_map] = configmap.build(ctx)
    for name, value in config_map["data"].items():
        monkeypatch.setenv(name, value)
    return Settings(qdrant_url=None, qdrant_path=":memory:", backend_wait_seconds=1)


@pytest.mark.parametrize(
    ("replicas", "shards", "factor", "write_consistency", "shard_number"),
    [(1, None, 1, 1, 1), (2, None, 2, 1, 2), (3, None, 3, 2, 3), (7, None, 3, 2, 7), (3, 6, 3, 2, 6)],
)
def test_a_new_collection_gets_the_replication_the_operator_sets(
    monkeypatch: pytest.MonkeyPatch,
    replicas: int,
    shards: int | None,
    factor: int,
    write_consistency: int,
    shard_number: int,
) -> None:
    settings = settings_of_a_system_with(monkeypatch, replicas, shards)
    created: list[dict[str, Any]] = []
    real_create = QdrantClient.create_collection

    def recorded(self: QdrantClient, collection_name: str, **options: Any) -> bool:
        created.append(options)
        return real_create(self, collection_name, **options)

    monkeypatch.setattr(QdrantClient, "create_collection", recorded)
    index = production_wiring.qdrant_index(settings, dimensions=16)
    try:
        index.ping()
    finally:
        index.close()
    [options] = created
    assert options["replication_factor"] == factor
    assert options["write_consistency_factor"] == write_consistency
    assert options["shard_number"] == shard_number
    assert options["vectors_config"].size == 16


def test_collection_settings_carry_the_replication() -> None:
    settings = collection_settings(384, "cosine", Replication(3, 2))
    assert (settings["replication_factor"], settings["write_consistency_factor"]) == (3, 2)
    assert collection_settings(8, "dot", Replication())["replication_factor"] == 1
    # No shard number: Qdrant's own default, for a runtime that no operator configures.
    assert "shard_number" not in collection_settings(8, "dot", Replication())
    assert collection_settings(8, "dot", Replication(3, 2, 6))["shard_number"] == 6


@pytest.mark.parametrize(("factor", "write_consistency"), [(1, 2), (3, 0), (2, 3)])
def test_a_write_consistency_the_replicas_cannot_give_is_refused(factor: int, write_consistency: int) -> None:
    with pytest.raises(ValueError, match="write consistency factor"):
        Replication(factor, write_consistency)
