"""JSONL and Hugging Face dataset I/O, and the error messages users see for bad files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from nines.data.io import DataError, from_hf_dataset, iter_jsonl_rows, read_jsonl, to_hf_dataset, write_jsonl
from nines.data.record import Label, Snippet


def _snips() -> list[Snippet]:
    return [
        Snippet("Tom went to the park.", "He fed the ducks.", label=Label.SAFE, source="seed", split="train",
                labeller="alice", metadata={"family": "park", "scores": [0.1, 0.2]}),
        Snippet("Lily found a knife.", "She cut her friend.", label=Label.INJURIOUS, labeller="oracle", id=7,
                prompt_id="storyworld:42"),
        Snippet("Ünïcode — prompt “quoted”.", "Ça va.", split="test", metadata={"nested": {"a": None}}),
    ]


def _write(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


GOOD = {"prompt": "p", "completion": "c"}


# ----------------------------------------------------------------------------- JSONL round trip


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "snips.jsonl"
    write_jsonl(_snips(), path)
    assert read_jsonl(path) == _snips()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[1])["label"] == "injurious"
    assert "Ünïcode" in lines[2]  # written as UTF-8, not \u escapes


def test_write_is_atomic_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "snips.jsonl"
    write_jsonl(_snips(), path)
    before = path.read_bytes()
    bad = [*_snips(), Snippet("p", "c", metadata={"x": {1, 2}})]
    with pytest.raises(DataError, match=r'line 4, field "metadata"'):
        write_jsonl(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["snips.jsonl"]  # no temp file left behind


def test_blank_lines_skipped_and_extra_fields_go_to_metadata(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", ["", {**GOOD, "family": "knives", "metadata": {"k": 1}}, "   ", GOOD])
    first, second = read_jsonl(path)
    assert first.metadata == {"k": 1, "family": "knives"}
    assert first.label is None and first.source == "initial" and first.split is None
    assert second.metadata == {}


def test_iter_jsonl_rows_gives_line_numbers_and_raw_dicts(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", [{"prompt": "a", "completion": "b", "score": 3}, "", {"prompt": "x"}])
    assert list(iter_jsonl_rows(path)) == [(1, {"prompt": "a", "completion": "b", "score": 3}), (3, {"prompt": "x"})]


# ----------------------------------------------------------------------------- error messages


@pytest.mark.parametrize(
    ("row", "line", "field", "says"),
    [
        ('{"prompt": "p", "completion": ', 2, None, "is not valid JSON"),
        ("[1, 2]", 2, None, "not a JSON object"),
        ({"completion": "c"}, 2, "prompt", "is missing"),
        ({"prompt": "p"}, 2, "completion", "is missing"),
        ({"prompt": 3, "completion": "c"}, 2, "prompt", "3 is a number, not a string"),
        ({"prompt": None, "completion": "c"}, 2, "prompt", "null, not a string"),
        ({**GOOD, "label": "maybe"}, 2, "label", '"maybe" is not one of injurious, safe, unsure (or null)'),
        ({**GOOD, "label": 1}, 2, "label", "is not one of"),
        ({**GOOD, "split": "dev"}, 2, "split", '"dev" is not one of train, val, test (or null)'),
        ({**GOOD, "metadata": [1]}, 2, "metadata", "is an array, not an object"),
        ({**GOOD, "metadata": "x"}, 2, "metadata", "is a string, not an object"),
        ({**GOOD, "source": 5}, 2, "source", "not a string"),
        ({**GOOD, "labeller": ["a"]}, 2, "labeller", "not a string"),
        ({**GOOD, "id": "seven"}, 2, "id", "not an integer"),
        ({**GOOD, "fam": 1, "metadata": {"fam": 2}}, 2, "fam", "both a top-level field and a key of metadata"),
    ],
)
def test_malformed_rows_name_file_line_and_field(
    tmp_path: Path, row: object, line: int, field: str | None, says: str
) -> None:
    path = _write(tmp_path / "data.jsonl", [GOOD, row, GOOD])
    with pytest.raises(DataError) as info:
        read_jsonl(path)
    err = info.value
    message = str(err)
    assert message.startswith(f"{path}, line {line}")
    assert says in message
    assert err.line == line and err.field == field and err.path == str(path)
    if field is not None:
        assert f'field "{field}"' in message
    assert "; " in message and ("fix" in message or "add" in message or "keep" in message or "remove" in message)


def test_exact_label_message(tmp_path: Path) -> None:
    rows: list[object] = [*([GOOD] * 6), {**GOOD, "label": "maybe"}]
    path = _write(tmp_path / "data.jsonl", rows)
    with pytest.raises(DataError) as info:
        read_jsonl(path)
    assert str(info.value) == (
        f'{path}, line 7, field "label": "maybe" is not one of injurious, safe, unsure (or null); '
        "fix the row or remove it"
    )


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match="contains no rows"):
        read_jsonl(path)


def test_non_utf8_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + '{"prompt": "café", "completion": "c"}'.encode("latin-1"))
    with pytest.raises(DataError, match=r"line 2: is not UTF-8"):
        read_jsonl(path)


def test_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert read_jsonl(path)[0].prompt == "p"


def test_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


# ----------------------------------------------------------------------------- Hugging Face datasets


def test_hf_round_trip_in_memory_and_on_disk(tmp_path: Path) -> None:
    ds = to_hf_dataset(_snips())
    assert ds.column_names == ["id", "prompt", "completion", "label", "source", "labeller", "split", "metadata",
                               "prompt_id"]
    assert ds[1]["prompt_id"] == "storyworld:42" and ds[0]["prompt_id"] is None
    assert ds.features["metadata"].dtype == "string"
    assert json.loads(ds[0]["metadata"]) == {"family": "park", "scores": [0.1, 0.2]}
    assert from_hf_dataset(ds) == _snips()
    ds.save_to_disk(str(tmp_path / "ds"))
    assert from_hf_dataset(tmp_path / "ds") == _snips()
    assert from_hf_dataset(str(tmp_path / "ds")) == _snips()


def test_hf_schema_is_stable_when_everything_is_null() -> None:
    a = to_hf_dataset([Snippet("p", "c")])
    b = to_hf_dataset(_snips())
    assert a.features == b.features
    assert len(to_hf_dataset([])) == 0


def test_hf_bad_row_names_the_row() -> None:
    from datasets import Dataset

    ds = Dataset.from_dict({"prompt": ["a", "b"], "completion": ["c", "d"], "label": ["safe", "nope"]})
    with pytest.raises(DataError, match=r'<dataset>, row 2, field "label"'):
        from_hf_dataset(ds)


def test_hf_dataset_dict_is_refused(tmp_path: Path) -> None:
    from datasets import DatasetDict

    DatasetDict({"train": to_hf_dataset(_snips())}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError, match=r"DatasetDict with splits train; pass one split"):
        from_hf_dataset(tmp_path / "dd")


def test_hf_unserialisable_metadata() -> None:
    with pytest.raises(DataError, match='item 1, field "metadata"'):
        to_hf_dataset([Snippet("p", "c", metadata={"x": object()})])
