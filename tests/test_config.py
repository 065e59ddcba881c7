"""Config loading: YAML file, key=value overrides, nested keys, validation messages, saving."""

from __future__ import annotations

from pathlib import Path

import pytest

from nines.config import ConfigError, load_config, save_config
from nines.pipeline.demo import DemoConfig


def test_yaml_then_overrides_and_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("seed: 3\ntrain:\n  lr: 2.0e-5\n  epochs: 1\n")
    cfg = load_config(DemoConfig, f, ["train.epochs=3", "filter.strategy=batch_safest", "eval.n_prompts=10"])
    assert cfg.seed == 3 and cfg.train.lr == 2e-5 and cfg.train.epochs == 3
    assert cfg.filter.strategy == "batch_safest" and cfg.eval.n_prompts == 10
    save_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(DemoConfig, tmp_path / "resolved.yaml") == cfg


@pytest.mark.parametrize("override,msg", [
    ("train.lrr=1", "unknown config key.*train.lrr"),
    ("train.epochs=abc", "train.epochs"),
    ("filter.strategy=fastest", "strategy"),
    ("nonsense", "not key=value"),
])
def test_bad_overrides_say_what_is_wrong(override: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        load_config(DemoConfig, None, [override])


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(DemoConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(DemoConfig, bad)
