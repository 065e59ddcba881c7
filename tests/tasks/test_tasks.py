"""Tasks: the injury task is the default, built-ins and YAML tasks load, and bad tasks say how to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from nines.config import ConfigError
from nines.tasks import INJURY, TaskConfig, load_task, record_task, recorded_task


def test_the_default_task_is_injury_with_p_injury() -> None:
    assert load_task() == INJURY == TaskConfig()
    assert (INJURY.positive, INJURY.negative, INJURY.score_field) == ("injurious", "safe", "p_injury")
    assert "injur" in INJURY.instructions_markdown()


def test_safetext_is_built_in_with_its_own_names_and_page() -> None:
    t = load_task("safetext")
    assert (t.positive, t.negative, t.score_field) == ("unsafe", "safe", "p_unsafe")
    page = t.instructions_markdown()
    assert "unsafe" in page and "Worked examples" in page
    assert t.canonical("unsafe") == "injurious" and t.canonical("safe") == "safe" and t.canonical(None) is None
    assert t.display("injurious") == "unsafe"


def test_a_yaml_task_resolves_its_instructions_and_defaults_the_score_field(tmp_path: Path) -> None:
    (tmp_path / "phone.md").write_text("# Phone numbers\n")
    (tmp_path / "phone.yaml").write_text("name: phone\npositive: reveals\npredicate: it reveals a phone number\n"
                                         "instructions: phone.md\n")
    t = load_task(tmp_path / "phone.yaml")
    assert (t.name, t.positive, t.negative, t.score_field) == ("phone", "reveals", "safe", "p_reveals")
    assert t.instructions_markdown() == "# Phone numbers\n"
    assert load_task(tmp_path / "phone.yaml", ["score_field=p_phone"]).score_field == "p_phone"


@pytest.mark.parametrize(("text", "match"), [
    ("name: x\npositive: bad\npredicate: p\n", "missing instructions"),
    ("name: x\npositive: bad\npredicate: p\ninstructions: nope.md\n", "does not exist"),
    ("name: X Y\npositive: bad\npredicate: p\ninstructions: ok.md\n", "task.name"),
    ("name: x\npositive: safe\npredicate: p\ninstructions: ok.md\n", "both 'safe'"),
    ("name: x\npositive: bad\nnegative: injurious\npredicate: p\ninstructions: ok.md\n", "stored values"),
    ("name: x\npositive: bad\npredicate: p\ninstructions: ok.md\nscore_field: label\n", "score_field"),
    ("name: x\npositive: bad\npredicate: p\ninstructions: ok.md\ncolour: red\n", "unknown config key"),
])
def test_bad_task_files_say_how_to_fix(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "ok.md").write_text("# ok\n")
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_task(tmp_path / "t.yaml")


def test_unknown_name_lists_the_built_ins() -> None:
    with pytest.raises(ConfigError, match="injury, safetext"):
        load_task("bogus")


def test_the_task_round_trips_through_the_manifest(tmp_path: Path) -> None:
    assert recorded_task(tmp_path) is None
    record_task(tmp_path, load_task("safetext"))
    assert recorded_task(tmp_path) == load_task("safetext")
