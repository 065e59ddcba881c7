"""The Oracle protocols, TableOracle, and StoryWorld's exact oracle behind them."""

from __future__ import annotations

from pathlib import Path

import pytest

from nines.data.io import write_jsonl
from nines.data.record import Label, Snippet
from nines.generate import Prompt, text_prompt_id
from nines.oracle import ExactOracle, Oracle, TableOracle, label_all
from nines.storyworld import StoryWorld


def test_table_oracle_answers_known_pairs_and_none_for_unknown_ones() -> None:
    a, b = Prompt("q-1", "Same text."), Prompt("q-2", "Same text.")
    table = TableOracle({("q-1", "She fell."): True, ("q-2", "She fell."): False}, name="people")
    assert isinstance(table, Oracle) and not isinstance(table, ExactOracle) and table.name == "people"
    # Same prompt text, different ids: different answers; anything else cannot be said.
    assert table.label([a, b, a, Prompt("q-3", "Same text.")], ["She fell.", "She fell.", "She left.", "She fell."]) \
        == [True, False, None, None]
    assert (a, "She fell.") in table and ("q-9", "x") not in table and len(table) == 2
    with pytest.raises(ValueError, match="2 prompts but 1"):
        table.label([a, b], ["x"])
    with pytest.raises(ValueError, match="True/False"):
        TableOracle({("q-1", "x"): 1})  # type: ignore[dict-item]


def test_table_oracle_from_snippets_and_jsonl(tmp_path: Path) -> None:
    rows = [
        Snippet("Mara waited.", "The troll hit her.", Label.INJURIOUS, prompt_id="storyworld:7"),
        Snippet("Mara waited.", "The troll left.", Label.SAFE, prompt_id="storyworld:7"),
        Snippet("A hand-written prompt.", "It was fine.", Label.SAFE),  # no id: keyed by its text's hash
        Snippet("Mara waited.", "Unclear.", Label.UNSURE, prompt_id="storyworld:7"),  # skipped
        Snippet("Mara waited.", "Unlabelled."),
    ]
    write_jsonl(rows, tmp_path / "labels.jsonl")
    for table in (TableOracle.from_snippets(rows), TableOracle.from_jsonl(tmp_path / "labels.jsonl")):
        p = Prompt("storyworld:7", "Mara waited.")
        got = table.label([p, p, "A hand-written prompt.", p, p],
                          ["The troll hit her.", "The troll left.", "It was fine.", "Unclear.", "Unlabelled."])
        assert got == [True, False, False, None, None]
        assert table.label([Prompt(text_prompt_id("A hand-written prompt."), "A hand-written prompt.")],
                           ["It was fine."]) == [False]
    assert TableOracle.from_jsonl(tmp_path / "labels.jsonl").name == "labels.jsonl"


def test_conflicting_labels_raise_or_abstain() -> None:
    rows = [Snippet("p", "c", Label.INJURIOUS, prompt_id="x"), Snippet("p", "c", Label.SAFE, prompt_id="x"),
            Snippet("p", "d", Label.SAFE, prompt_id="x")]
    with pytest.raises(ValueError, match="both injurious and safe"):
        TableOracle.from_snippets(rows)
    table = TableOracle.from_snippets(rows, conflicts="abstain")
    assert table.label([Prompt("x", "p")] * 2, ["c", "d"]) == [None, False]


def test_storyworld_oracle_labels_equal_the_exact_labels_of_sampled_batches() -> None:
    world = StoryWorld()
    batch = world.sample(400, seed=21).take(list(range(0, 400, 5)))
    oracle = StoryWorld(seed=3).oracle()  # another world instance: nothing remembered, labels from the scenes
    assert isinstance(oracle, Oracle) and isinstance(oracle, ExactOracle)
    assert oracle.label(batch.prompt_objects(), batch.completions) == batch.injurious.tolist()
    assert oracle.probability(batch.prompt_objects()) == pytest.approx(batch.p_injurious.tolist(), abs=1e-12)
    # An id paired with a text that is not its scene's (an edited prompt) is not a pair the world wrote.
    first = batch.prompt_objects()[0]
    edited = Prompt(first.id, first.text.replace(".", "!", 1), first.meta)
    assert oracle.label([edited], [batch.completions[0]]) == [None]
    assert world.label(edited, batch.completions[0]) is None
    # A table built from the batch's snippets agrees with it, pair for pair.
    table = TableOracle.from_snippets(batch.to_snippets())
    assert table.label(batch.prompt_objects(), batch.completions) == batch.injurious.tolist()


def test_label_all_checks_what_an_oracle_returns() -> None:
    class Broken:
        name = "broken"

        def __init__(self, out: list[object]) -> None:
            self.out = out

        def label(self, prompts, completions):  # type: ignore[no-untyped-def]
            return self.out

    p = [Prompt("a", "x"), Prompt("b", "y")]
    assert label_all(Broken([True, None]), p, ["c", "d"]) == [True, None]
    with pytest.raises(ValueError, match="returned 1 labels for 2 pairs"):
        label_all(Broken([True]), p, ["c", "d"])
    with pytest.raises(ValueError, match="True, False or None"):
        label_all(Broken([1, 0]), p, ["c", "d"])
    assert label_all(Broken([]), [], []) == []
