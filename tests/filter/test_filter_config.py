"""FilterConfig validation and the tightening rule."""

from __future__ import annotations

import math

import pytest

from nines.config import ConfigError, load_config
from nines.filter import FilterConfig


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, r"batch_size must be an integer >= 1"),
        ({"batch_size": -3, "strategy": "batch_first"}, r"batch_size must be an integer >= 1"),
        ({"max_attempts": 0}, r"max_attempts must be an integer >= 1"),
        ({"strategy": "batch_first", "batch_size": 8, "max_attempts": 4}, r"raise max_attempts to at least batch_size"),
        ({"strategy": "batch_safest", "batch_size": 5, "max_attempts": 2}, r"max_attempts=2 is below"),
        ({"tighten_factor": 0.0}, r"tighten_factor must be in \(0, 1\]"),
        ({"tighten_factor": 1.5}, r"tighten_factor must be in \(0, 1\]"),
        ({"tighten_factor": -0.5}, r"tighten_factor must be in \(0, 1\]"),
        ({"threshold": 1.2}, r"threshold must be a probability in \[0, 1\]"),
        ({"threshold": -0.1}, r"threshold must be a probability in \[0, 1\]"),
        ({"tighten_after": 0}, r"tighten_after must be an integer >= 1"),
        ({"min_threshold": 0.0}, r"min_threshold must be in \(0, 1\]"),
        ({"strategy": "greedy"}, r"strategy must be one of sequential, batch_first, batch_safest"),
        ({"fallback": "retry"}, r"fallback must be 'refuse' or 'safest'"),
    ],
)
def test_bad_values_raise_helpful_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FilterConfig(**kwargs)


def test_valid_edge_values_are_accepted() -> None:
    FilterConfig(threshold=0.0)
    FilterConfig(threshold=1.0, tighten_factor=1.0, min_threshold=1.0)
    # sequential ignores batch_size, so a small max_attempts is fine there
    FilterConfig(strategy="sequential", batch_size=8, max_attempts=2)
    FilterConfig(strategy="batch_first", batch_size=4, max_attempts=6)  # last round truncated
    # a floor above the base threshold is allowed: the floor is min(min_threshold, base)
    FilterConfig(threshold=0.0, tighten_after=1, min_threshold=0.1)


def test_load_config_overrides_are_coerced_and_validated() -> None:
    cfg = load_config(FilterConfig, overrides=["strategy=batch_safest", "batch_size=3", "max_attempts=9", "threshold=0.2"])
    assert (cfg.strategy, cfg.batch_size, cfg.max_attempts, cfg.threshold) == ("batch_safest", 3, 9, 0.2)
    with pytest.raises(ConfigError, match="tighten_factor"):
        load_config(FilterConfig, overrides=["tighten_factor=2"])


def test_effective_threshold_rule() -> None:
    cfg = FilterConfig(tighten_after=2, tighten_factor=0.5, min_threshold=0.01)
    got = [cfg.effective_threshold(0.4, r) for r in range(12)]
    assert got[:2] == [0.4, 0.4]  # before tighten_after rejections: the base threshold
    assert got[2] == pytest.approx(0.2)
    assert got[3] == pytest.approx(0.1)
    assert got[4] == pytest.approx(0.05)
    assert all(a >= b for a, b in zip(got, got[1:]))  # monotone non-increasing
    assert min(got) == 0.01  # the floor, never 0
    assert cfg.effective_threshold(0.4, 10_000) == 0.01  # no underflow to 0
    # the floor never loosens a base threshold that is already below it
    assert cfg.effective_threshold(0.005, 50) == 0.005
    assert FilterConfig().effective_threshold(0.3, 100) == 0.3  # no tightening by default
    assert math.isclose(FilterConfig(tighten_after=1, tighten_factor=1.0).effective_threshold(0.3, 9), 0.3)
