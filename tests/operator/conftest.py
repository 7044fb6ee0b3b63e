"""Fixtures of the operator tests: the CRD, the samples, and the operator running against an emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from kube_emulator import ApiServerEmulator

from soma_operator.builders import BuildContext, Credentials
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem

REPO = Path(__file__).resolve().parents[2]
CRD_PATH = REPO / "crds" / "memory.soma.dev_memorysystems.yaml"
SAMPLES = sorted((REPO / "config" / "samples").glob("*.yaml"))
KUBERNETES_VERSION = "1.33"


def load_sample(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def with_identity(body: dict[str, Any], uid: str = "0b6f6c43-5f0b-4d53-9c43-1a2b3c4d5e6f") -> dict[str, Any]:
    metadata = {"namespace": "default", **body["metadata"], "uid": uid}
    return {**body, "metadata": metadata}


def build_context(body: dict[str, Any], **kwargs: Any) -> BuildContext:
    return BuildContext(
        MemorySystem.from_body(with_identity(body)), OperatorConfig(), Credentials(), **kwargs
    )


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return document


@pytest.fixture(params=SAMPLES, ids=[path.stem for path in SAMPLES])
def sample(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load_sample(request.param)


@pytest.fixture()
async def emulator() -> AsyncIterator[ApiServerEmulator]:
    async with ApiServerEmulator() as handler, kmock.Server(handler):
        yield handler
