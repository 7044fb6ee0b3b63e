"""kubectl against the kind cluster, in the style of pytest-kind's KindCluster (which downloads its own tools;
this one uses the kind and kubectl on PATH and a cluster that `make kind-up` created)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class KindCluster:
    context: str

    def kubectl(self, *arguments: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            ["kubectl", "--context", self.context, *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(arguments)} failed: {done.stderr}")
        return done.stdout

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            self.kubectl("get", kind, name, "--namespace", namespace, "-o", "json")
        )
        return found

    def wait_for(self, kind: str, name: str, namespace: str, condition: str, timeout: str = "600s") -> None:
        """`kubectl wait`: watches until the condition holds, failing at the timeout (no polling loop)."""
        self.kubectl(
            "wait", kind, name, "--namespace", namespace, f"--for={condition}", f"--timeout={timeout}"
        )

    @contextmanager
    def port_forward(self, service: str, port: int, namespace: str) -> Iterator[int]:
        """Forward a free local port to a Service port; yields the local port."""
        command = ["kubectl", "--context", self.context, "port-forward", "--namespace", namespace]
        forward = subprocess.Popen(
            [*command, f"service/{service}", f":{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert forward.stdout is not None
        match = FORWARDING.search(forward.stdout.readline())
        try:
            if match is None:
                forward.terminate()
                raise AssertionError(f"port-forward to {service} failed: {forward.communicate()[1]}")
            yield int(match.group(1))
        finally:
            forward.terminate()
            forward.wait()
