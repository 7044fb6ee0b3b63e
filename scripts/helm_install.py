"""`helm upgrade --install` of a chart through helm-sdkpy (Helm's engine as a library): no helm binary needed.

    python scripts/helm_install.py helm/soma-operator soma --namespace soma-system --create-namespace \
        --values-json '{"watch": {"namespaces": ["team-a"]}}'

Prints the chart's NOTES (or, with --json, the whole release as JSON). Helm stores its release record as a
Secret in the cluster unless HELM_DRIVER=memory is set when this program starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import helm_sdkpy


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("chart", help="path of the chart directory")
    parser.add_argument("release", help="release name")
    parser.add_argument("--namespace", default="default", help="release namespace")
    parser.add_argument(
        "--create-namespace", action="store_true", help="create the release namespace if missing"
    )
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)"
    )
    parser.add_argument("--kube-context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--values-json", default="{}", help="values as a JSON object")
    parser.add_argument("--no-wait", action="store_true", help="return without waiting for the pods")
    parser.add_argument("--timeout", type=int, default=300, help="seconds to wait for the pods")
    parser.add_argument("--json", action="store_true", help="print the release as JSON instead of its notes")
    return parser.parse_args(argv)


async def upgrade_install(arguments: argparse.Namespace) -> dict[str, Any]:
    configuration = helm_sdkpy.Configuration(
        namespace=arguments.namespace,
        kubeconfig=arguments.kubeconfig.read_text() if arguments.kubeconfig else None,
        kubecontext=arguments.kube_context,
    )
    release: dict[str, Any] = await helm_sdkpy.Upgrade(configuration).run(
        arguments.release,
        arguments.chart,
        values=json.loads(arguments.values_json),
        install=True,
        create_namespace=arguments.create_namespace,
        wait=not arguments.no_wait,
        timeout=arguments.timeout,
    )
    return release


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    try:
        release = asyncio.run(upgrade_install(arguments))
    except helm_sdkpy.HelmError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    sys.stdout.write(json.dumps(release) if arguments.json else release["info"].get("notes", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
