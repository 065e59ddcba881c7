"""Reading a team's labels: JSONL (plain, snippet and app-export formats) and store datasets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from nines.data.io import DataError
from nines.data.record import Snippet
from nines.data.store import Store
from nines.evaluate.labels_source import read_labels, split_store_source
from nines.generate.base import text_prompt_id
from pg import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, and PostgreSQL when $NINES_TEST_POSTGRES_URL is set."""
    yield from fresh_database(request.param, f"sqlite:///{tmp_path / 'n.db'}")


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_plain_rows_with_any_label_spelling(tmp_path: Path) -> None:
    f = _write(tmp_path / "l.jsonl", [
        {"prompt_id": "a", "prompt": "P", "completion": "x", "label": "injurious"},
        {"prompt": "Q", "completion": "y", "label": "safe", "score": 0.2},
        {"prompt_id": "a", "prompt": "P", "completion": "z", "label": True},
        {"prompt_id": "b", "prompt": "R", "completion": "w", "label": 0},
        {"prompt_id": "b", "prompt": "R", "completion": "v", "label": "unsure"},
        {"prompt_id": "b", "prompt": "R", "completion": "u", "label": None},
    ])
    src = read_labels(f)
    assert [r.label for r in src.rows] == [True, False, True, False] and src.skipped == 2
    assert src.rows[1].prompt_id == text_prompt_id("Q") and src.rows[1].meta["score"] == 0.2
    assert src.to_dict()["failures"] == 2


def test_task_label_names(tmp_path: Path) -> None:
    f = _write(tmp_path / "l.jsonl", [{"prompt": "P", "completion": "x", "label": "unsafe"},
                                      {"prompt": "P", "completion": "y", "label": "ok"}])
    assert [r.label for r in read_labels(f, positive="unsafe", negative="ok").rows] == [True, False]
    with pytest.raises(DataError, match=r"l\.jsonl, line 1, field \"label\""):
        read_labels(f)


def test_bad_rows_name_the_file_line_and_fix(tmp_path: Path) -> None:
    f = _write(tmp_path / "bad.jsonl", [{"prompt": "P", "completion": "x", "label": "safe"}, {"prompt": "P", "label": "safe"}])
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2, field \"completion\".*give every row"):
        read_labels(f)
    f = _write(tmp_path / "nolabel.jsonl", [{"prompt": "P", "completion": "x"}])
    with pytest.raises(DataError, match=r"line 1, field \"label\": is missing; add \"label\""):
        read_labels(f)
    with pytest.raises(FileNotFoundError, match="store URL"):
        read_labels(tmp_path / "absent.jsonl")


def test_app_export_counts_each_snippet_once(tmp_path: Path) -> None:
    base = {"prompt": "P", "completion": "x", "note": None, "source": "s", "split": None, "created_at": "t"}
    f = _write(tmp_path / "export.jsonl", [
        {**base, "label_id": 1, "snippet_id": 7, "label": "injurious", "labeller": "a", "current_label": "injurious"},
        {**base, "label_id": 2, "snippet_id": 7, "label": "safe", "labeller": "b", "current_label": "injurious"},
        {**base, "label_id": 3, "snippet_id": 8, "completion": "y", "label": "safe", "labeller": "a", "current_label": None},
        {**base, "label_id": 4, "snippet_id": 9, "completion": "z", "label": "safe", "labeller": "a", "current_label": None},
        {**base, "label_id": 5, "snippet_id": 9, "completion": "z", "label": "injurious", "labeller": "b",
         "current_label": None},
    ])
    src = read_labels(f)
    assert [(r.completion, r.label) for r in src.rows] == [("x", True), ("y", False)] and src.skipped == 1
    assert src.rows[0].meta["labels_given"] == 2


def test_store_dataset(db_url: str) -> None:
    url = db_url
    with Store(url) as store:
        store.add([Snippet("P", "x", "injurious", prompt_id="p1", metadata={"score": 0.3}),
                   Snippet("P", "y", None, prompt_id="p1"), Snippet("Q", "z", "safe")], dataset="mine")
    src = read_labels(f"{url}#mine")
    assert src.kind == "store" and src.dataset == "mine" and src.skipped == 1
    assert [(r.prompt_id, r.label) for r in src.rows] == [("p1", True), (text_prompt_id("Q"), False)]
    assert src.rows[0].meta["score"] == 0.3
    with pytest.raises(ValueError, match="no dataset 'other'.*mine"):
        read_labels(f"{url}#other")
    with pytest.raises(ValueError, match="#DATASET"):
        read_labels(url)


def test_store_url_password_is_hidden() -> None:
    assert split_store_source("postgresql://u:pw@h/db#x") == ("postgresql://u:pw@h/db", "x")
    with pytest.raises(ValueError) as e:
        split_store_source("postgresql://u:secret@h/db")
    assert "secret" not in str(e.value)
