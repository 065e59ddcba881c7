"""The offline backbones: all-mpnet-base-v2 is joined from its five PyPI parts, and its names resolve to it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from nines.classify import backbones
from nines.classify.encoder import ClassifierLoadError, resolve_backbone


def _fake_parts(tmp_path: Path) -> list[Path]:
    """A zip holding ``all-mpnet-base-v2/{config.json,model.safetensors}``, split in five like the packages."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        z.writestr("all-mpnet-base-v2/model.safetensors", b"\0" * 5000)
    data = buf.getvalue()
    size = -(-len(data) // 5)
    parts = []
    for i in range(5):
        p = tmp_path / "parts" / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data[i * size:(i + 1) * size])
        parts.append(p)
    return parts


def test_mpnet_path_joins_the_parts_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINES_CACHE", str(tmp_path / "cache"))
    parts = _fake_parts(tmp_path)
    monkeypatch.setattr(backbones, "_part_files", lambda: parts)
    path = backbones.mpnet_path()
    assert path == tmp_path / "cache" / "backbones" / "all-mpnet-base-v2"
    assert (path / "config.json").read_text() == '{"model_type": "mpnet"}'
    assert not list(path.parent.glob("*.partial")) and not (path.parent / "all-mpnet-base-v2.unpacking").exists()
    # Unpacked once: a second call does not need the parts.
    monkeypatch.setattr(backbones, "_part_files", lambda: None)
    assert backbones.mpnet_path() == path


def test_mpnet_names_resolve_to_the_offline_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbones, "mpnet_path", lambda: tmp_path)
    assert resolve_backbone("all-mpnet-base-v2") == str(tmp_path)
    assert resolve_backbone("sentence-transformers/all-mpnet-base-v2") == str(tmp_path)


def test_mpnet_missing_offline_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbones, "mpnet_path", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ClassifierLoadError, match="make bench-deps"):
        resolve_backbone("all-mpnet-base-v2")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert resolve_backbone("all-mpnet-base-v2") == "sentence-transformers/all-mpnet-base-v2"
