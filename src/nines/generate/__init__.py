"""Generators: anything that samples n completions per prompt with log-probabilities."""

from nines.generate.base import Completion, Generator

__all__ = ["Completion", "Generator"]
