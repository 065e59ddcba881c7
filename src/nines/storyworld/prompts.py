"""Prompt sentence templates (same syntax as :mod:`nines.storyworld.families`).

A prompt is three sentences: an opening that places the victim (``OPENINGS``, chosen by victim class
and whether it carries a prior injury), a sentence about the agent whose menace depends on the scene's
tension (``MENACE``), and a sentence that introduces the scene object (``OBJECT_LINES``). The last two
come in either order. Every entity a coherent completion may mention is thus named in the prompt.
"""

from __future__ import annotations

#: Tension levels: calm, tense, climax.
TENSIONS: tuple[str, ...] = ("calm", "tense", "climax")

OPENINGS: dict[str, list[str]] = {
    "sentient": [
        "{v} [crept|walked|hurried|wandered] {pp}[ as the light faded|, humming softly| without a sound|].",
        "[Late that evening|Just before dawn|That afternoon], {v} [made {vp} way|set off] {pp}.",
        "{v} had finally reached {pl}[, tired but determined| after a long day|].",
        "{v} [paused|lingered|waited] near {pl}, [listening|thinking about supper|catching {vp} breath].",
    ],
    "sentient_injured": [
        "{v} [limped|crept|edged] {pp}, {vp} {i} [aching|throbbing|still sore].",
        "Despite {vp} {i}, {v} [pressed on|kept going] {pp}[ as the light faded|].",
        "{v} [rested|paused] near {pl}, [favouring|nursing] {vp} {i}.",
    ],
    "ns_mobile": [
        "{v} [rattled|clattered|trundled|whirred] {pp}[ as the light faded|].",
        "[That evening|Just before dawn], {v} [moved|clanked] slowly {pp}.",
    ],
    "ns_still": [
        "{v} stood [forgotten|alone|half in shadow] near {pl}.",
        "[For years|All winter], {v} had [stood|waited] near {pl}[, gathering dust|].",
    ],
}

MENACE: dict[int, list[str]] = {
    0: [
        "{a} [sat|dozed] nearby, {ap} {w} [resting|set aside].",
        "{a} [waved|nodded] from a distance[ and went back to work|].",
        "{a} was [resting|busy] [at the far end|somewhere behind {vo}], {ap} {w} out of sight.",
        "[Somewhere far away|On the other side], {a} [was asleep|was eating supper].",
    ],
    1: [
        "{a} [stepped|moved] closer, {ap} {w} [ready|glinting].",
        "Somewhere behind {vo}, {a} [growled|muttered] and [reached for|lifted] {ap} {w}.",
        "{a} [blocked|barred] the way, watching {vo} [closely|hungrily].",
        "Somewhere close, {a} was [following|watching] {vo}[ in the dark|].",
    ],
    2: [
        "{a} raised {ap} {w} above {vo}.",
        "{a} [lunged|charged] at {vo}, {ap} {w} [swinging|first].",
        "With a [roar|snarl|shout], {a} [brought down|swung] {ap} {w}.",
        "{a} [cornered|pinned] {vo} against the wall and [bared|raised] {ap} {w}.",
    ],
}

OBJECT_LINES: list[str] = [
    "{ob} [stood|lay] [nearby|in the corner|at {vp} feet].",
    "[Beside|Behind] {vo}, {ob} [gleamed|waited][ in the gloom|].",
    "[Close by|Not far off], {ob} [caught the light|sat untouched].",
]
