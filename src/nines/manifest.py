"""The run manifest: ``manifest.json`` beside a run's outputs, the run's state outside the classifier.

A run (``nines demo``, ``nines train``, ``nines calibrate``, ``nines evaluate``) writes what it was
made from: the family split (which StoryWorld realisation families the classifier was trained on
and which were held out), fingerprints of the data it read, the resolved config of each stage and
the versions of the packages that ran it. A later stage reads the split from here, so held-out
families never reach training, the threshold or the "in-family" condition.

The module imports nothing heavier than the standard library, so every layer may read a manifest.
Classifiers saved before manifests existed keep their split in ``nines.json``
(``metrics["families"]``); :func:`family_split` falls back to it.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"
#: Where classifiers saved before manifests existed keep the split (``nines.json``).
_META_FILE = "nines.json"
_VERSIONED = ("nines", "numpy", "torch", "transformers", "scipy")


@dataclass(frozen=True)
class FamilySplit:
    """StoryWorld realisation families a classifier was trained on, and those held out of training.

    Attributes:
        train: families the training data (and the threshold's clean samples) came from.
        heldout: families kept out of training, for the "unseen families" condition.
    """

    train: tuple[str, ...]
    heldout: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        overlap = sorted(set(self.train) & set(self.heldout))
        if overlap:
            raise ValueError(f"families {overlap} are both trained on and held out; a split must be disjoint")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FamilySplit:
        """From ``{"train": [...], "heldout": [...]}`` (the manifest's and old ``nines.json``'s form)."""
        return cls(tuple(d.get("train") or ()), tuple(d.get("heldout") or ()))

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "heldout": list(self.heldout)}


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a run's figures depend on (``missing`` when not installed)."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunManifest:
    """What a run folder was made from.

    Attributes:
        families: the family split, when the run knows it (``None``: every family, nothing held out).
        fingerprints: order-independent hashes of the data each stage read, by name (``train``,
            ``val``, ``clean``, ...; see :func:`nines.classify.train.data_fingerprint`).
        config: each stage's resolved config, by stage (``demo``, ``train``, ``calibrate``, ...).
        inputs: paths the run read, by name (``classifier``, ``data``, ...).
        classifier: the classifier folder inside the run folder, relative to it (``None``: none).
        versions: :func:`package_versions` at the last write.
        stages: the stages that wrote this manifest, in order.
        updated: UTC time of the last write.
    """

    families: FamilySplit | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    classifier: str | None = None
    versions: dict[str, str] = field(default_factory=package_versions)
    stages: list[str] = field(default_factory=list)
    updated: str = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        return {"families": None if self.families is None else self.families.to_dict(),
                "fingerprints": dict(self.fingerprints), "config": dict(self.config), "inputs": dict(self.inputs),
                "classifier": self.classifier, "versions": dict(self.versions), "stages": list(self.stages),
                "updated": self.updated}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunManifest:
        fams = d.get("families")
        return cls(families=None if fams is None else FamilySplit.from_dict(fams),
                   fingerprints=dict(d.get("fingerprints") or {}), config=dict(d.get("config") or {}),
                   inputs=dict(d.get("inputs") or {}), classifier=d.get("classifier"),
                   versions=dict(d.get("versions") or {}), stages=list(d.get("stages") or []),
                   updated=str(d.get("updated", "")))

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/manifest.json`` (atomically: a killed write leaves the old one)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        path = d / MANIFEST_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=float))
        tmp.replace(path)
        return path


def read_manifest(directory: str | Path) -> RunManifest | None:
    """The manifest in ``directory``, or ``None`` when it has none."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return RunManifest.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is not a nines run manifest ({e}); delete it or rerun the stage that wrote it") from None


def record_stage(directory: str | Path, stage: str, config: Mapping[str, Any], *,
                 families: FamilySplit | None = None, fingerprints: Mapping[str, str] | None = None,
                 inputs: Mapping[str, str] | None = None, classifier: str | None = None) -> RunManifest:
    """Add one stage to ``directory``'s manifest (made if missing) and save it.

    A stage that runs again replaces its own config; the split is kept unless ``families`` is given.
    """
    man = read_manifest(directory) or RunManifest()
    man.config[stage] = dict(config)
    man.fingerprints.update(fingerprints or {})
    man.inputs.update(inputs or {})
    if families is not None:
        man.families = families
    if classifier is not None:
        man.classifier = classifier
    man.stages = [s for s in man.stages if s != stage] + [stage]
    man.versions, man.updated = package_versions(), _now()
    man.save(directory)
    return man


def _split_from_meta(metrics: Any) -> FamilySplit | None:
    fams = (metrics or {}).get("families") if isinstance(metrics, Mapping) else None
    return FamilySplit.from_dict(fams) if isinstance(fams, Mapping) and fams.get("train") else None


def family_split(source: str | Path | None = None, classifier: Any = None) -> FamilySplit | None:
    """The family split of a classifier folder or run folder, or ``None`` when none was recorded.

    Looked up in order: ``source/manifest.json``; the manifest of the run folder holding ``source``
    as its classifier (``nines demo`` writes ``OUTPUT/manifest.json`` beside ``OUTPUT/classifier``);
    then, for classifiers saved before manifests, ``metrics["families"]`` of ``classifier.meta``
    or of ``source/nines.json``.

    Args:
        source: a run folder or a classifier folder.
        classifier: a loaded classifier (its ``meta.metrics`` is the last fallback).
    """
    if source is not None:
        d = Path(source)
        own = read_manifest(d)
        if own is not None and own.families is not None:
            return own.families
        parent = read_manifest(d.parent) if d.parent != d else None
        if parent is not None and parent.families is not None and parent.classifier == d.name:
            return parent.families
    if classifier is not None:
        split = _split_from_meta(getattr(getattr(classifier, "meta", None), "metrics", None))
        if split is not None:
            return split
    if source is not None and (Path(source) / _META_FILE).is_file():
        try:
            return _split_from_meta(json.loads((Path(source) / _META_FILE).read_text()).get("metrics"))
        except json.JSONDecodeError:
            return None
    return None

