"""nines: make a language model never do one specific bad thing, and measure how many nines it got.

The main names are importable from the top (``nines.StoryWorld``, ``nines.train_classifier``,
``nines.filter_generate``, ``nines.clopper_pearson``, ...); each is imported on first use (PEP 562),
so ``import nines`` stays fast and does not import torch. The package is laid out as one subpackage
per stage of the loop, in layers (``tests/test_layering.py`` holds the order):

- :mod:`nines.stats` - estimators with error bars (pure numpy/scipy).
- :mod:`nines.data` - the snippet record, the store (SQLite/PostgreSQL), JSONL and HF datasets I/O, the seed set.
- :mod:`nines.generate` - the ``Prompt``, the ``Generator`` protocol and its backends.
- :mod:`nines.storyworld` - a generative model of short fiction with an exact injury oracle.
- :mod:`nines.oracle` - where labels come from: the ``Oracle`` protocol and a table of labels.
- :mod:`nines.classify` - training, calibrating and thresholding the injury classifier.
- :mod:`nines.filter` - rejection sampling.
- :mod:`nines.evaluate` - failure rates with exact bounds, the measurements and the HTML report.
- :mod:`nines.recipes` - whole runs (the demo, evaluation, ...) that the CLI calls.
"""

# ruff: noqa: F401  (the imports under TYPE_CHECKING are the exports; __all__ is built from _EXPORTS)

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Exported name -> the module that defines it (imported when the name is first used).
_EXPORTS: dict[str, str] = {
    # prompts, generators and StoryWorld
    "Prompt": "nines.generate.base",
    "Completion": "nines.generate.base",
    "Generator": "nines.generate.base",
    "as_prompts": "nines.generate.base",
    "load_generator": "nines.generate.registry",
    "HFGenerator": "nines.generate.hf",
    "HFGeneratorConfig": "nines.generate.hf",
    "OpenAICompletionsGenerator": "nines.generate.openai_compat",
    "OpenAIGeneratorConfig": "nines.generate.openai_compat",
    "convert_llama2c": "nines.generate.llama2c",
    "StoryWorld": "nines.storyworld.world",
    # labels
    "Oracle": "nines.oracle.base",
    "ExactOracle": "nines.oracle.base",
    "TableOracle": "nines.oracle.table",
    "StoryWorldOracle": "nines.storyworld.oracle",
    "Snippet": "nines.data.record",
    "Label": "nines.data.record",
    "Store": "nines.data.store",
    "read_jsonl": "nines.data.io",
    "write_jsonl": "nines.data.io",
    # the classifier
    "Classifier": "nines.classify.base",
    "EncoderClassifier": "nines.classify.encoder",
    "TrainConfig": "nines.classify.train",
    "TrainResult": "nines.classify.train",
    "train_classifier": "nines.classify.train",
    "CalibrationConfig": "nines.classify.calibrate",
    "Calibration": "nines.classify.calibrate",
    "calibrate_classifier": "nines.classify.calibrate",
    # the filter
    "FilterConfig": "nines.filter.config",
    "FilterResult": "nines.filter.rejection",
    "FilteredGenerator": "nines.filter.rejection",
    "filter_generate": "nines.filter.rejection",
    # measuring
    "Interval": "nines.stats.binomial",
    "binomial_interval": "nines.stats.binomial",
    "clopper_pearson": "nines.stats.binomial",
    "wilson": "nines.stats.binomial",
    "nines_line": "nines.stats.binomial",
    "filtered_failure_rate": "nines.stats.reweight",
    "failure_rate_curve": "nines.stats.reweight",
    "importance_sample": "nines.stats.rare",
    "importance_estimate": "nines.stats.rare",
    "stratified_sample": "nines.stats.rare_stratified",
    "stratified_estimate": "nines.stats.rare_stratified",
    "WinRate": "nines.stats.winrate",
    "winrate_from_outcomes": "nines.stats.winrate",
    "coupled_winrate": "nines.evaluate.winrate",
    "naive_winrate": "nines.evaluate.winrate",
    "StoryWorldJudge": "nines.judge.storyworld_judge",
    "LLMJudge": "nines.judge.llm",
    # configuration
    "load_config": "nines.config",
    "save_config": "nines.config",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562) and keep it, so later lookups are plain."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nines' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs (a test keeps the two lists equal)
    from nines.classify.base import Classifier
    from nines.classify.calibrate import Calibration, CalibrationConfig, calibrate_classifier
    from nines.classify.encoder import EncoderClassifier
    from nines.classify.train import TrainConfig, TrainResult, train_classifier
    from nines.config import load_config, save_config
    from nines.data.io import read_jsonl, write_jsonl
    from nines.data.record import Label, Snippet
    from nines.data.store import Store
    from nines.evaluate.winrate import coupled_winrate, naive_winrate
    from nines.filter.config import FilterConfig
    from nines.filter.rejection import FilteredGenerator, FilterResult, filter_generate
    from nines.generate.base import Completion, Generator, Prompt, as_prompts
    from nines.generate.hf import HFGenerator, HFGeneratorConfig
    from nines.generate.llama2c import convert_llama2c
    from nines.generate.openai_compat import OpenAICompletionsGenerator, OpenAIGeneratorConfig
    from nines.generate.registry import load_generator
    from nines.judge.llm import LLMJudge
    from nines.judge.storyworld_judge import StoryWorldJudge
    from nines.oracle.base import ExactOracle, Oracle
    from nines.oracle.table import TableOracle
    from nines.stats.binomial import Interval, binomial_interval, clopper_pearson, nines_line, wilson
    from nines.stats.rare import importance_estimate, importance_sample
    from nines.stats.rare_stratified import stratified_estimate, stratified_sample
    from nines.stats.reweight import failure_rate_curve, filtered_failure_rate
    from nines.stats.winrate import WinRate, winrate_from_outcomes
    from nines.storyworld.oracle import StoryWorldOracle
    from nines.storyworld.world import StoryWorld
