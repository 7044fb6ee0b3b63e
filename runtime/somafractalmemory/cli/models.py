"""`soma models fetch`: a model's ONNX export and tokenizer files into a directory, once.

A complete copy is marked by a manifest (``soma-model.json``: the model, where it came from and the
sha256 of each file) written last, after the files were moved into place. A directory whose manifest
is missing or does not match its files is a partial copy: it is fetched again and replaced. Files are
fetched into a sibling directory first, so the target never holds a mix of two fetches.

Sources: the Hugging Face hub (default; huggingface_hub reads HF_ENDPOINT and HF_TOKEN), or a local
directory (a path or ``file://`` URL) laid out as the hub publishes the model, for air-gapped clusters.
"""

import argparse
import fnmatch
import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from somafractalmemory.cli.errors import CommandFailed, UsageError
from somafractalmemory.cli.options import QUIET_LOG_LEVEL, Subparsers, logging_options
from somafractalmemory.cli.output import note, write_json

log = logging.getLogger(__name__)

HUB = "hub"
FILE_SCHEME = "file://"
MANIFEST = "soma-model.json"
STAGING_SUFFIX = ".fetching"
HASH_CHUNK = 1024 * 1024
# What the ONNX embedder reads (docs/evaluation.md), as the hub lays out a sentence-transformers model.
PATTERNS = (
    "model.onnx",
    "onnx/model.onnx",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
WEIGHTS = ("model.onnx", "onnx/model.onnx")
TOKENIZER = "tokenizer.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def wanted(relative: str) -> bool:
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in PATTERNS)


def model_files(folder: Path) -> list[str]:
    """The wanted files under ``folder``, as sorted relative POSIX paths."""
    return sorted(
        relative
        for path in folder.rglob("*")
        if path.is_file() and wanted(relative := path.relative_to(folder).as_posix())
    )


def complete(target: Path, model: str) -> dict[str, Any] | None:
    """The manifest of a complete copy of ``model`` in ``target``, else None."""
    try:
        manifest: dict[str, Any] = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = manifest.get("files")
    if manifest.get("model") != model or not isinstance(files, dict) or not files:
        return None
    for relative, digest in files.items():
        path = target / relative
        if not path.is_file() or sha256(path) != digest:
            log.warning("%s: %s is missing or changed; fetching again", target, relative)
            return None
    return manifest


def local_folder(source: str) -> Path:
    path = Path(unquote(urlparse(source).path)) if source.startswith(FILE_SCHEME) else Path(source)
    if not path.is_dir():
        raise UsageError(f"--from {source}: no such directory")
    return path


def copy_local(folder: Path, staging: Path) -> None:
    for relative in model_files(folder):
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / relative, staging / relative)


def download_hub(model: str, staging: Path) -> None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        snapshot_download(model, local_dir=staging, allow_patterns=list(PATTERNS))
    except HfHubHTTPError as error:
        raise CommandFailed(f"cannot fetch {model} from the hub: {error}") from None
    shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping of the download


def check_layout(staging: Path, model: str, source: str) -> list[str]:
    files = model_files(staging)
    if not any(name in files for name in WEIGHTS):
        raise CommandFailed(f"{model} from {source} has no ONNX export (model.onnx or onnx/model.onnx)")
    if TOKENIZER not in files:
        raise CommandFailed(f"{model} from {source} has no {TOKENIZER}")
    return files


def fetch(model: str, target: Path, source: str) -> dict[str, Any]:
    """The manifest of ``target`` once it holds a complete copy of ``model``; ``fetched`` says whether
    this call fetched it."""
    manifest = complete(target, model)
    if manifest is not None:
        return {**manifest, "fetched": False}
    staging = target.with_name(target.name + STAGING_SUFFIX)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if source == HUB:
            download_hub(model, staging)
        else:
            copy_local(local_folder(source), staging)
        files = check_layout(staging, model, source)
        manifest = {
            "model": model,
            "source": source,
            "files": {name: sha256(staging / name) for name in files},
        }
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {**manifest, "fetched": True}


def run_fetch(args: argparse.Namespace) -> int:
    result = fetch(args.model, args.to, args.source)
    if not args.quiet:
        verb = "fetched" if result["fetched"] else "already complete:"
        note(f"{verb} {args.model} in {args.to} ({len(result['files'])} files)")
    write_json(
        {"model": args.model, "dir": str(args.to), "fetched": result["fetched"], "files": result["files"]}
    )
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    summary = "Manage the models of the neural embedders (SOMA_EMBEDDING_PROVIDER=onnx)."
    parser = subparsers.add_parser("models", help=summary, description=summary)
    commands = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    fetch_summary = (
        "Put a model's ONNX export and tokenizer files into a directory once (the directory "
        "SOMA_EMBEDDING_MODEL_DIR names): a complete copy, marked by its manifest, is kept; a partial one "
        "is replaced. Prints the files and their sha256 as JSON."
    )
    fetcher = commands.add_parser(
        "fetch", parents=[logging_options()], help=fetch_summary, description=fetch_summary
    )
    fetcher.add_argument(
        "--model",
        required=True,
        metavar="ID",
        help="the model's hub id, e.g. sentence-transformers/all-MiniLM-L6-v2",
    )
    fetcher.add_argument("--to", required=True, type=Path, metavar="DIR", help="the model directory to fill")
    fetcher.add_argument(
        "--from",
        dest="source",
        default=HUB,
        metavar="SOURCE",
        help="'hub' (default: the Hugging Face hub at $HF_ENDPOINT, token $HF_TOKEN), or a local directory "
        "or file:// URL holding the model as the hub lays it out",
    )
    fetcher.add_argument("-q", "--quiet", action="store_true", help="no progress message")
    fetcher.set_defaults(func=run_fetch, default_log_level=QUIET_LOG_LEVEL)
