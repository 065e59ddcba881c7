"""StoryWorld: a generative model of short fiction with an exact injury oracle.

Latent scenes (victim, agent, weapon, prior injury, place, object, tension) render into 3-sentence
prompts; a one-sentence completion realises an outcome kind through a named realisation family.
The label is exact (injurious outcome and sentient victim) and every probability is known.
"""

from nines.storyworld.batch import FamilySplit, StoryBatch
from nines.storyworld.completions import CompletionFacts, CompletionTable
from nines.storyworld.families import INJURIOUS_OUTCOMES, OUTCOMES
from nines.storyworld.generator import StoryWorldGenerator
from nines.storyworld.identity import NOT_A_WORLD_PROMPT, PROMPT_ID_PREFIX, scene_prompt_id
from nines.storyworld.labeller import SimulatedLabeller
from nines.storyworld.oracle import StoryWorldOracle
from nines.storyworld.scenes import DISTRIBUTIONS
from nines.storyworld.world import StoryWorld

__all__ = [
    "CompletionFacts",
    "CompletionTable",
    "DISTRIBUTIONS",
    "INJURIOUS_OUTCOMES",
    "NOT_A_WORLD_PROMPT",
    "OUTCOMES",
    "PROMPT_ID_PREFIX",
    "FamilySplit",
    "SimulatedLabeller",
    "StoryBatch",
    "StoryWorld",
    "StoryWorldGenerator",
    "StoryWorldOracle",
    "scene_prompt_id",
]
