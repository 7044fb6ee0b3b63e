"""`soma backup` and `soma restore` as their own processes while a real `soma serve` runs on the
embedded default: the backup reads the data directory under the serving process, writes included; the
restore goes through the running API, so the serving process's vector index has what was restored."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from served import AUTH, TOKEN, ServeFactory

from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime
from support.backup_data import (
    LINKS_PER_NAMESPACE,
    MEMORIES_PER_NAMESPACE,
    NAMESPACES,
    QUERIES,
    TOP_K,
    VERSIONED,
    VERSIONS_PER_NAMESPACE,
    coordinate,
    seed,
)

LIVE = "live"  # written to all along the backup
# The API routes a namespace as one path segment: a name with "/" is out of its reach.
SERVED = tuple(namespace for namespace in NAMESPACES if "/" not in namespace)


def soma(*arguments: str) -> tuple[int, dict[str, Any], str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SOMA_")}
    env["SOMA_API_TOKEN"] = TOKEN
    done = subprocess.run(
        [sys.executable, "-m", "somafractalmemory.cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout), done.stderr


def api(url: str, namespace: str) -> httpx.Client:
    return httpx.Client(base_url=f"{url}/v1/namespaces/{quote(namespace, safe='')}", headers=AUTH, timeout=30)


def exported(url: str, namespace: str) -> list[dict[str, Any]]:
    with api(url, namespace) as client:
        lines = client.get("/export").raise_for_status().text.splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda record: json.dumps(record, sort_keys=True))


def histories(url: str, namespace: str) -> list[list[dict[str, Any]]]:
    """The versions of every memory that has some, as the API lists them."""
    with api(url, namespace) as client:
        return [
            client.get(f"/memories/{','.join(str(float(c)) for c in coordinate(index))}/versions")
            .raise_for_status()
            .json()["versions"]
            for index in range(VERSIONED)
        ]


def tops(url: str, namespace: str) -> list[list[list[float]]]:
    with api(url, namespace) as client:
        return [
            [
                hit["memory"]["coord"]
                for hit in client.post("/recall", json={"query": query, "top_k": TOP_K})
                .raise_for_status()
                .json()["results"]
            ]
            for query in QUERIES
        ]


@contextmanager
def writing(url: str) -> Iterator[list[int]]:
    """Stores into LIVE, one memory a request, until the block ends; yields the count stored so far."""
    stored = [0]
    stop = threading.Event()

    def write() -> None:
        with api(url, LIVE) as client:
            while not stop.is_set():
                coord = ",".join(str(float(c)) for c in coordinate(stored[0]))
                client.put(
                    f"/memories/{coord}", json={"payload": {"text": f"live {stored[0]}"}}
                ).raise_for_status()
                stored[0] += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        yield stored
    finally:
        stop.set()
        thread.join(30)


def test_backup_and_restore_while_soma_serve_runs(serve: ServeFactory, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seeded = build_runtime(Settings(data_dir=data_dir))
    seed(seeded.service, SERVED)
    seeded.close()
    served = serve(data_dir=data_dir)
    # Recall counts accesses: the top 10s first, so that the contents taken next are what is backed up.
    recalled = {namespace: tops(served.url, namespace) for namespace in SERVED}
    before = {namespace: (exported(served.url, namespace), recalled[namespace]) for namespace in SERVED}
    dest = tmp_path / "backups"

    with writing(served.url) as stored:
        code, summary, err = soma("backup", "--data-dir", str(data_dir), "--to", str(dest), "-q")
        during = stored[0]
    assert (code, err, summary["result"], summary["namespaces"]) == (0, "", "Succeeded", 3)
    manifest = json.loads((dest / summary["id"] / "manifest.json").read_text())
    live = manifest["namespaces"][LIVE]["memories"]
    assert 0 < live <= during
    assert summary["memories"] == 2 * MEMORIES_PER_NAMESPACE + live
    assert summary["links"] == 2 * LINKS_PER_NAMESPACE
    assert summary["versions"] == 2 * VERSIONS_PER_NAMESPACE
    history = histories(served.url, "alpha")
    assert sum(len(versions) for versions in history) == VERSIONS_PER_NAMESPACE

    # Into the running server: alpha loses memories, then gets them back through its API. (Lexical
    # scores weigh words over the whole store, which now holds LIVE: the top 10s to expect are now's.)
    expected = tops(served.url, "alpha")
    with api(served.url, "alpha") as client:
        for index in range(10):
            coord = ",".join(str(float(c)) for c in coordinate(index))
            client.delete(f"/memories/{coord}").raise_for_status()
    # Memories 0 to 9 go, and with them the links 0->1 ... 9->10.
    assert len(exported(served.url, "alpha")) == (MEMORIES_PER_NAMESPACE - 10) + (LINKS_PER_NAMESPACE - 10)
    code, restored, err = soma(
        "restore", "--url", served.url, "--from", str(dest), "--namespace", "alpha", "-q"
    )
    counted = ("memories", "links", "versions", "namespaces")
    assert (code, err, *(restored[key] for key in counted)) == (
        0,
        "",
        MEMORIES_PER_NAMESPACE,
        LINKS_PER_NAMESPACE,
        VERSIONS_PER_NAMESPACE,
        1,
    )
    assert exported(served.url, "alpha") == before["alpha"][0]
    assert histories(served.url, "alpha") == history
    assert tops(served.url, "alpha") == expected

    # Into another running server: the store as it was before LIVE was written, then LIVE.
    other = serve()
    picked = [argument for namespace in SERVED for argument in ("--namespace", namespace)]
    code, restored, err = soma(
        "restore", "--url", other.url, "--from", str(dest), "--backup", summary["id"], *picked, "-q"
    )
    files = [dest / summary["id"] / manifest["namespaces"][namespace]["file"] for namespace in SERVED]
    assert (code, err) == (0, "")
    assert restored == {
        **summary,
        "bytes": sum(path.stat().st_size for path in files),
        "memories": 2 * MEMORIES_PER_NAMESPACE,
        "links": 2 * LINKS_PER_NAMESPACE,
        "namespaces": 2,
    }
    for namespace in SERVED:
        assert exported(other.url, namespace) == before[namespace][0]
        assert tops(other.url, namespace) == before[namespace][1]
    code, restored, err = soma("restore", "--url", other.url, "--from", str(dest), "--namespace", LIVE, "-q")
    assert (code, err, restored["memories"]) == (0, "", live)
    assert len(exported(other.url, LIVE)) == live
