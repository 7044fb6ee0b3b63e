"""`soma models fetch`: from a local directory (air-gapped clusters) and from a hub, here a small HTTP
server on 127.0.0.1 that answers the endpoints huggingface_hub's snapshot_download calls."""

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from cli_harness import run_soma

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
COMMIT = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
# The hub's layout of the model: the ONNX export under onnx/, beside files the embedder never reads.
REPO = {
    "onnx/model.onnx": b"onnx-bytes-" * 100,
    "tokenizer.json": b'{"version": "1.0"}',
    "config.json": b'{"hidden_size": 384}',
    "sentence_bert_config.json": b'{"max_seq_length": 256}',
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "pytorch_model.bin": b"torch-weights",
    "README.md": b"# MiniLM",
    "onnx/model_qint8_avx512.onnx": b"quantised",
}
FETCHED = [
    "1_Pooling/config.json",
    "config.json",
    "onnx/model.onnx",
    "sentence_bert_config.json",
    "tokenizer.json",
]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_repo(folder: Path) -> Path:
    for name, data in REPO.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def fetch(capsys: pytest.CaptureFixture[str], target: Path, source: str) -> dict[str, object]:
    result = run_soma(
        ["models", "fetch", "--model", MODEL, "--to", str(target), "--from", source, "-q"], capsys
    )
    assert result.code == 0, result.err
    answer: dict[str, object] = json.loads(result.out)
    return answer


def test_fetch_from_a_local_directory_copies_what_the_embedder_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_repo(tmp_path / "source")
    target = tmp_path / "models" / "all-minilm-l6-v2"
    answer = fetch(capsys, target, str(source))
    files = {name: digest(REPO[name]) for name in FETCHED}
    assert answer == {"model": MODEL, "dir": str(target), "fetched": True, "files": files}
    on_disk = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert on_disk == sorted([*FETCHED, "soma-model.json"])
    assert json.loads((target / "soma-model.json").read_text()) == {
        "model": MODEL,
        "source": str(source),
        "files": files,
    }
    assert not (tmp_path / "models" / "all-minilm-l6-v2.fetching").exists()


def test_a_complete_copy_is_not_fetched_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_repo(tmp_path / "source")
    target = tmp_path / "model"
    fetch(capsys, target, f"file://{source}")
    (source / "tokenizer.json").write_bytes(b'{"version": "2.0"}')
    assert fetch(capsys, target, str(source))["fetched"] is False
    assert (target / "tokenizer.json").read_bytes() == b'{"version": "1.0"}'


@pytest.mark.parametrize("damage", ["no manifest", "changed file", "missing file", "other model"])
def test_a_partial_copy_is_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    source = write_repo(tmp_path / "source")
    target = tmp_path / "model"
    fetch(capsys, target, str(source))
    (target / "stray.txt").write_text("left by an earlier fetch")
    manifest = target / "soma-model.json"
    if damage == "no manifest":
        manifest.unlink()
    elif damage == "changed file":
        (target / "onnx" / "model.onnx").write_bytes(b"truncated")
    elif damage == "missing file":
        (target / "tokenizer.json").unlink()
    else:
        manifest.write_text(manifest.read_text().replace(MODEL, "other/model"))
    assert fetch(capsys, target, str(source))["fetched"] is True
    assert (target / "onnx" / "model.onnx").read_bytes() == REPO["onnx/model.onnx"]
    assert (target / "tokenizer.json").read_bytes() == REPO["tokenizer.json"]
    assert not (target / "stray.txt").exists()


def test_a_source_without_an_onnx_export_is_refused_and_nothing_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_repo(tmp_path / "source")
    (source / "onnx" / "model.onnx").unlink()
    target = tmp_path / "model"
    result = run_soma(
        ["models", "fetch", "--model", MODEL, "--to", str(target), "--from", str(source)], capsys
    )
    assert result.code == 1
    assert result.err == (
        f"soma models: error: {MODEL} from {source} has no ONNX export (model.onnx or onnx/model.onnx)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_a_missing_source_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_soma(
        [
            "models",
            "fetch",
            "--model",
            MODEL,
            "--to",
            str(tmp_path / "m"),
            "--from",
            str(tmp_path / "nowhere"),
        ],
        capsys,
    )
    assert result.code == 2
    assert result.err == f"soma models: error: --from {tmp_path / 'nowhere'}: no such directory\n"


class FakeHub(BaseHTTPRequestHandler):
    """The hub's endpoints that snapshot_download calls: the revision's info, the recursive tree of the
    commit, and HEAD/GET of each file it wants under /REPO/resolve/COMMIT/."""

    requests: list[str] = []
    authorizations: set[str | None] = set()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, body: bytes, content_type: str, extra: dict[str, str], send_body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _serve(self, send_body: bool) -> None:
        path = urlparse(self.path).path
        FakeHub.requests.append(f"{self.command} {path}")
        FakeHub.authorizations.add(self.headers.get("Authorization"))
        if path == f"/api/models/{MODEL}/revision/main":
            info = {"id": MODEL, "sha": COMMIT, "siblings": [{"rfilename": name} for name in REPO]}
            self._answer(json.dumps(info).encode(), "application/json", {}, send_body)
        elif path == f"/api/models/{MODEL}/tree/{COMMIT}":
            tree = [
                {"type": "file", "path": name, "size": len(data), "oid": digest(data)[:40]}
                for name, data in REPO.items()
            ]
            self._answer(json.dumps(tree).encode(), "application/json", {}, send_body)
        elif path.startswith(prefix := f"/{MODEL}/resolve/{COMMIT}/") and path[len(prefix) :] in REPO:
            data = REPO[path[len(prefix) :]]
            headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{digest(data)}"'}
            self._answer(data, "application/octet-stream", headers, send_body)
        else:
            self.send_error(404)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)


@pytest.fixture
def hub() -> Iterator[str]:
    FakeHub.requests = []
    FakeHub.authorizations = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_from_the_hub_honours_hf_endpoint_and_hf_token(tmp_path: Path, hub: str) -> None:
    """As a Job runs it: its own process, the hub's address and token in the environment."""
    target = tmp_path / "model"
    environment = {
        **os.environ,
        "HF_ENDPOINT": hub,
        "HF_TOKEN": "hf_test_token",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    environment.pop("HF_HUB_OFFLINE", None)
    command = [
        sys.executable,
        "-m",
        "somafractalmemory.cli",
        "models",
        "fetch",
        "--model",
        MODEL,
        "--to",
        str(target),
    ]
    done = subprocess.run(command, env=environment, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    files = {name: digest(REPO[name]) for name in FETCHED}
    assert json.loads(done.stdout) == {"model": MODEL, "dir": str(target), "fetched": True, "files": files}
    assert json.loads((target / "soma-model.json").read_text())["source"] == "hub"
    on_disk = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert on_disk == sorted([*FETCHED, "soma-model.json"])
    assert FakeHub.authorizations == {"Bearer hf_test_token"}
    assert sorted(FakeHub.requests) == sorted(
        [
            f"GET /api/models/{MODEL}/revision/main",
            f"GET /api/models/{MODEL}/tree/{COMMIT}",
            *(f"{verb} /{MODEL}/resolve/{COMMIT}/{name}" for name in FETCHED for verb in ("HEAD", "GET")),
        ]
    )

    again = subprocess.run(command, env=environment, capture_output=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr.decode()
    assert json.loads(again.stdout)["fetched"] is False
    assert len(FakeHub.requests) == 2 + 2 * len(FETCHED)  # a complete copy asks the hub nothing
