"""Pairwise judges: which of two continuations of a prompt is better.

- :class:`StoryWorldJudge`: Bradley-Terry on StoryWorld's latent quality (a simulated human).
- :class:`LLMJudge`: any OpenAI-compatible chat endpoint, with randomised presentation order.
- :class:`RecordedJudge`: replays recorded human comparisons (JSONL).
"""

from nines.judge.base import FIRST, SECOND, TIE, Candidate, PairwiseJudge, text_of
from nines.judge.llm import LLMJudge, parse_verdict
from nines.judge.recorded import RecordedJudge, UnknownPairError
from nines.judge.storyworld_judge import StoryWorldJudge

__all__ = [
    "FIRST",
    "SECOND",
    "TIE",
    "Candidate",
    "LLMJudge",
    "PairwiseJudge",
    "RecordedJudge",
    "StoryWorldJudge",
    "UnknownPairError",
    "parse_verdict",
    "text_of",
]
