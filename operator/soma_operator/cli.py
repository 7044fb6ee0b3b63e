"""``soma-operator``: run the operator, or render what it would apply for a MemorySystem file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from soma_operator import builders
from soma_operator.builders.context import BuildContext, Capabilities, Credentials
from soma_operator.config import OperatorConfig
from soma_operator.constants import KIND
from soma_operator.spec import MemorySystem, SpecError

DEFAULT_LIVENESS_ENDPOINT = "http://0.0.0.0:8080/healthz"
# `render` needs only the base install; `run` needs the operator extra, imported only when it runs.
OPERATOR_EXTRA = "operator"
OPERATOR_EXTRA_MODULES = frozenset({"kopf", "aiohttp"})
# Operators a spec may use when the cluster runs them (builders/context.py Capabilities).
OPTIONAL_OPERATORS = ("cloudnative-pg", "keda")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soma-operator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="reconcile MemorySystems until stopped")
    scope = run.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--namespace", "-n", action="append", metavar="NS", help="watch this namespace (repeatable)"
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch the whole cluster")
    run.add_argument("--log-format", choices=("json", "plain"), default="json")
    run.add_argument(
        "--liveness",
        default=DEFAULT_LIVENESS_ENDPOINT,
        metavar="URL",
        help=f"serve the liveness probe here (default: {DEFAULT_LIVENESS_ENDPOINT})",
    )

    render = commands.add_parser("render", help="print the manifests the operator would apply, no cluster")
    render.add_argument("file", type=Path, help="a YAML file with one or more MemorySystem documents")
    render.add_argument(
        "--without",
        action="append",
        choices=OPTIONAL_OPERATORS,
        default=[],
        help="render as for a cluster where this operator is not installed (repeatable; default: "
        "CloudNativePG and KEDA are installed)",
    )
    return parser


def render_file(path: Path, config: OperatorConfig, capabilities: Capabilities | None = None) -> str:
    """The YAML stream of every manifest the operator would apply for the MemorySystems in the file.

    Secrets get fresh random values, as on a first reconcile. Where a spec asks for CloudNativePG or
    KEDA, the manifests are those of a cluster that has them, unless ``capabilities`` says otherwise.
    """
    found = capabilities if capabilities is not None else Capabilities(cloudnative_pg=True, keda=True)
    documents = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    manifests = []
    for document in documents:
        if document.get("kind") != KIND:
            raise SpecError(f"{path}: expected kind {KIND}, found {document.get('kind')!r}")
        system = MemorySystem.from_body(document)
        manifests.extend(builders.render(BuildContext(system, config, Credentials(), capabilities=found)))
    return yaml.safe_dump_all(manifests, sort_keys=False)


def _run(args: argparse.Namespace) -> int:
    try:
        import kopf
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        if module not in OPERATOR_EXTRA_MODULES:
            raise
        sys.stderr.write(
            f"soma-operator run: needs the '{OPERATOR_EXTRA}' extra ({module} is not installed): "
            f"pip install 'somafractalmemory[{OPERATOR_EXTRA}]'\n"
        )
        return 1
    kopf.configure(log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.PLAIN)
    import soma_operator.handlers  # noqa: F401  registering the handlers is this import's job

    kopf.run(
        clusterwide=args.all_namespaces,
        namespaces=args.namespace or (),
        # One replica runs (the Deployment uses the Recreate strategy), so kopf's peering is not needed.
        standalone=True,
        liveness_endpoint=args.liveness,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    try:
        absent = set(args.without)
        found = Capabilities(cloudnative_pg="cloudnative-pg" not in absent, keda="keda" not in absent)
        sys.stdout.write(render_file(args.file, OperatorConfig(), found))
    except (OSError, yaml.YAMLError, SpecError) as error:
        sys.stderr.write(f"soma-operator render: {error}\n")
        return 1
    return 0
