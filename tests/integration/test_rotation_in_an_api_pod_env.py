"""`soma encryption rotate` as docs/operations.md runs it in a cluster (`kubectl exec deploy/NAME-api --
soma encryption rotate`): with nothing but the environment the operator gives the API container (its
ConfigMap, the connection URLs, the mounted keys and token files) and no writable home, on PostgreSQL and
Redis. Qdrant runs in local mode here (no Qdrant server in the test session): QDRANT_URL becomes
QDRANT_PATH."""

import json
import os
import subprocess
import sys
from pathlib import Path

from soma_operator.builders import encryption, runtime
from soma_operator.builders.context import BuildContext, Credentials
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem
from somafractalmemory.core.field_encryption import new_key
from support.servers import RedisServer

NS = "default"
SECRET = "quokkazanzibar"
OLD, NEW = new_key(), new_key()
BODY = {
    "apiVersion": "memory.soma.dev/v1alpha1",
    "kind": "MemorySystem",
    "metadata": {"name": "m", "namespace": "soma", "uid": "0b6f6c43-5f0b-4d53-9c43-1a2b3c4d5e6f"},
    "spec": {"mode": "direct", "encryption": {"fields": ["secret"]}},
}


def api_pod_env(tmp_path: Path, postgres_url: str, redis_url: str) -> dict[str, str]:
    """The API container's environment, its files under tmp_path instead of their mount paths."""
    ctx = BuildContext(MemorySystem.from_body(BODY), OperatorConfig(), Credentials(api_token="t0ken"))
    config = runtime.config_data(ctx)
    assert config["SOMA_ENCRYPTION_KEYS_FILE"] == encryption.KEYS_FILE
    assert config["SOMA_API_TOKEN_FILE"] == runtime.TOKEN_FILE
    (tmp_path / "token").write_text("t0ken")
    home = tmp_path / "home"
    home.mkdir(mode=0o500)  # read-only, like the container's root filesystem
    del config["QDRANT_URL"]
    return {
        **config,
        "SOMA_ENCRYPTION_KEYS_FILE": str(tmp_path / "keys"),
        "SOMA_API_TOKEN_FILE": str(tmp_path / "token"),
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "POSTGRES_URL": postgres_url,
        "REDIS_URL": redis_url,
        "HOME": str(home),
        "PATH": os.environ["PATH"],
    }


def soma(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "somafractalmemory.cli", *argv],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_rotate_runs_with_the_api_pods_environment(
    tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    env = api_pod_env(tmp_path, postgres_url, f"redis://127.0.0.1:{redis_server.port}/0")
    keys = tmp_path / "keys"
    keys.write_text(f"{OLD}\n")
    stored = soma(env, "store", "--namespace", NS, "1,2", json.dumps({"text": "t", "secret": SECRET}))
    assert stored.returncode == 0, stored.stderr

    # The rotated Secret, as the kubelet refreshes the mounted file: the new key first.
    keys.write_text(f"{NEW}\n{OLD}\n")
    rotated = soma(env, "encryption", "rotate", "--namespace", NS, "--quiet")
    assert rotated.returncode == 0, rotated.stderr
    summary = json.loads(rotated.stdout)
    assert (summary["memories"], summary["memories_rotated"], summary["skipped"]) == (1, 1, 0)

    # The old key removed: the memory still reads.
    keys.write_text(f"{NEW}\n")
    got = soma(env, "get", "--namespace", NS, "1,2")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["payload"] == {"text": "t", "secret": SECRET}
    assert not any((tmp_path / "home").iterdir())
