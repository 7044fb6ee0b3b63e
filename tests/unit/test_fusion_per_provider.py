"""Fused recall's defaults follow the embedding provider; each setting given replaces its default."""

from pathlib import Path

import pytest

from somafractalmemory.core.fusion import FusionWeights, fusion_for
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("hashing", FusionWeights(1.0, 3.0, 20)),
        ("onnx", FusionWeights(1.0, 1.0, 10)),
        ("sentence-transformers", FusionWeights(1.0, 1.0, 10)),
    ],
)
def test_each_provider_has_its_measured_defaults(provider: str, expected: FusionWeights) -> None:
    assert fusion_for(provider) == expected


def test_a_setting_given_replaces_only_its_default() -> None:
    assert fusion_for("onnx", lexical=0.0) == FusionWeights(1.0, 0.0, 10)
    assert fusion_for("hashing", dense=2.0, k=60) == FusionWeights(2.0, 3.0, 60)


def test_the_service_fuses_with_the_providers_defaults_unless_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path / "a"))
    assert runtime.service.fusion == FusionWeights(1.0, 3.0, 20)
    runtime.close()
    monkeypatch.setenv("SOMA_RECALL_RRF_K", "60")
    runtime = build_runtime(Settings(data_dir=tmp_path / "b"))
    assert runtime.service.fusion == FusionWeights(1.0, 3.0, 60)
    runtime.close()
