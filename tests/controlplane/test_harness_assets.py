"""Where the control-plane tier finds its binaries, and the reason it gives when there are none."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from support import control_plane
from support.control_plane import AssetsMissing, find_assets


def test_kubebuilder_assets_is_used_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("etcd", "kube-apiserver"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert find_assets() == tmp_path


def test_a_kubebuilder_assets_folder_without_the_binaries_is_refused_with_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etcd").write_bytes(b"")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    with pytest.raises(AssetsMissing) as missing:
        find_assets()
    assert f"KUBEBUILDER_ASSETS={tmp_path} lacks kube-apiserver" in str(missing.value)
    assert "setup-envtest" in str(missing.value)


def test_without_any_binaries_the_reason_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setattr(control_plane, "SHARED_ASSETS", tmp_path / "absent")
    with pytest.raises(AssetsMissing) as missing:
        find_assets()
    assert str(missing.value).startswith("no control-plane binaries found: set KUBEBUILDER_ASSETS")


def test_the_shared_archives_are_decompressed_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("etcd", "kube-apiserver"):
        (shared / f"{name}.xz").write_bytes(lzma.compress(f"#!/bin/sh\necho {name}\n".encode()))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(control_plane, "SHARED_ASSETS", shared)
    folder = find_assets()
    assert folder.parent == tmp_path / "cache" / "soma" / "kubebuilder-assets"
    assert (folder / "etcd").read_text() == "#!/bin/sh\necho etcd\n"
    assert (folder / "kube-apiserver").stat().st_mode & 0o777 == 0o755
    (folder / "etcd").write_text("kept")
    assert find_assets() == folder
    assert (folder / "etcd").read_text() == "kept"  # not decompressed again
