"""Read and write snippets as JSONL files and Hugging Face datasets.

A JSONL file holds one JSON object per line, the fields of :class:`~nines.data.record.Snippet`::

    {"prompt": "...", "completion": "...", "label": "safe", "source": "seed", "split": "train"}

``prompt`` and ``completion`` are required strings; ``label`` is ``injurious``, ``safe``,
``unsure`` or null; ``split`` is ``train``, ``val``, ``test`` or null; ``metadata`` is an
object. Blank lines are skipped. Every problem raises :class:`DataError` naming the file,
line and field and saying how to fix it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nines.data.record import LABELS, SPLITS, Label, Snippet

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "DataError",
    "from_hf_dataset",
    "iter_jsonl_rows",
    "read_jsonl",
    "snippet_from_row",
    "to_hf_dataset",
    "write_jsonl",
]

#: The top-level fields a snippet row may have; any other field is kept in ``metadata``.
FIELDS: tuple[str, ...] = (
    "prompt", "completion", "label", "source", "labeller", "split", "metadata", "id", "prompt_id",
)

_FIX_ROW = "fix the row or remove it"


class DataError(ValueError):
    """A snippet file or dataset is malformed; the message says where and how to fix it.

    Attributes:
        path: the file (or dataset) the problem is in.
        line: 1-based line (JSONL) or row (dataset) number, or ``None`` for the whole file.
        field: the offending field, or ``None`` when the row as a whole is the problem.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        line: int | None,
        field: str | None,
        problem: str,
        fix: str = _FIX_ROW,
        *,
        unit: str = "line",
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f", {unit} {line}"
        if field is not None:
            where += f', field "{field}"'
        super().__init__(f"{where}: {problem}; {fix}")


def _show(value: Any) -> str:
    """A short JSON rendering of a bad value for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _check_str(row: Mapping[str, Any], key: str, err: _Err, *, required: bool, nullable: bool) -> Any:
    if key not in row:
        if required:
            raise err(key, "is missing", f'add a "{key}" string to the row or remove the row')
        return None
    value = row[key]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        null = " or null" if nullable else ""
        raise err(key, f"{_show(value)} is {_type_name(value)}, not a string{null}", _FIX_ROW)
    return value


def _check_choice(row: Mapping[str, Any], key: str, choices: tuple[str, ...], err: _Err) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or value not in choices:
        raise err(key, f"{_show(value)} is not one of {', '.join(choices)} (or null)", _FIX_ROW)
    return value


def _check_metadata(row: Mapping[str, Any], err: _Err) -> dict[str, Any]:
    value = row.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise err("metadata", f"{_show(value)} is {_type_name(value)}, not an object", _FIX_ROW)
    return dict(value)


def _check_id(row: Mapping[str, Any], err: _Err) -> int | None:
    value = row.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise err("id", f"{_show(value)} is not an integer (or null)", "remove the id or make it an integer")
    return value


class _Err:
    """Builds :class:`DataError` for one row."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, unit: str) -> None:
        self.path, self.line, self.unit = path, line, unit

    def __call__(self, field: str | None, problem: str, fix: str) -> DataError:
        return DataError(self.path, self.line, field, problem, fix, unit=self.unit)


def snippet_from_row(
    row: Mapping[str, Any], path: str | os.PathLike[str] = "<row>", line: int | None = None, *, unit: str = "line"
) -> Snippet:
    """Validate one raw row and turn it into a :class:`Snippet`.

    Fields other than those of :class:`Snippet` are kept, under their own names, in
    ``metadata`` (a field that is also a key of the row's ``metadata`` object is an error,
    so nothing is silently dropped).

    Args:
        row: the decoded JSON object.
        path: the file the row came from, for error messages.
        line: the row's line number, for error messages.
        unit: what ``line`` counts (``"line"`` for files, ``"row"`` for datasets).

    Returns:
        The snippet, with ``id`` taken from the row when present.

    Raises:
        DataError: a field is missing or has a bad type or value.
    """
    err = _Err(path, line, unit)
    prompt = _check_str(row, "prompt", err, required=True, nullable=False)
    completion = _check_str(row, "completion", err, required=True, nullable=False)
    label = _check_choice(row, "label", LABELS, err)
    split = _check_choice(row, "split", SPLITS, err)
    source = _check_str(row, "source", err, required=False, nullable=True)
    labeller = _check_str(row, "labeller", err, required=False, nullable=True)
    prompt_id = _check_str(row, "prompt_id", err, required=False, nullable=True)
    metadata = _check_metadata(row, err)
    for key in row:
        if key in FIELDS:
            continue
        if key in metadata:
            raise err(key, "is both a top-level field and a key of metadata", "keep only one of them")
        metadata[key] = row[key]
    return Snippet(
        prompt=prompt,
        completion=completion,
        label=Label(label) if label is not None else None,
        source=source if source is not None else "initial",
        labeller=labeller,
        split=split,
        metadata=metadata,
        id=_check_id(row, err),
        prompt_id=prompt_id,
    )


def _decode_line(raw: bytes, path: Path, lineno: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, lineno, None, f"is not UTF-8 text ({exc.reason})", "re-save the file as UTF-8") from None
    return text.lstrip("\ufeff") if lineno == 1 else text


def _parse_line(text: str, path: Path, lineno: int) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, lineno, None, f"is not valid JSON ({exc.msg} at column {exc.colno})", _FIX_ROW) from None
    if not isinstance(value, dict):
        raise DataError(path, lineno, None, f"is {_type_name(value)}, not a JSON object", _FIX_ROW)
    return value


def iter_jsonl_rows(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, raw dict)`` for each non-blank line of a JSONL file.

    Only JSON syntax is checked (each line must be an object), so callers that need other
    fields, or only some (e.g. scoring just ``prompt`` and ``completion``), can read them.

    Args:
        path: the JSONL file.

    Yields:
        The 1-based line number and the decoded object.

    Raises:
        DataError: a line is not JSON or not an object, or the file has no rows.
        FileNotFoundError: the file does not exist.
    """
    p = Path(path)
    rows = 0
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            text = _decode_line(raw, p, lineno)
            if not text.strip():
                continue
            rows += 1
            yield lineno, _parse_line(text, p, lineno)
    if rows == 0:
        raise DataError(p, None, None, "contains no rows", "add one JSON object per line")


def read_jsonl(path: str | os.PathLike[str]) -> list[Snippet]:
    """Read and validate a whole JSONL file of snippets.

    Blank lines are skipped. Fields other than those of :class:`Snippet` go into the
    snippet's ``metadata`` under their own names.

    Args:
        path: the JSONL file.

    Returns:
        The snippets in file order.

    Raises:
        DataError: the first bad line, naming the file, line and field.
    """
    return [snippet_from_row(row, path, lineno) for lineno, row in iter_jsonl_rows(path)]


def _dump_line(snippet: Snippet, path: Path, index: int) -> str:
    try:
        return json.dumps(snippet.to_dict(), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DataError(
            path, index + 1, "metadata", f"cannot be written as JSON ({exc})", "keep metadata to JSON values"
        ) from None


def write_jsonl(snippets: Iterable[Snippet], path: str | os.PathLike[str]) -> None:
    """Write snippets as JSONL, atomically: readers see the old file or the new one, never half.

    Args:
        snippets: the snippets; each becomes ``Snippet.to_dict()`` on one line.
        path: the destination; parent folders are created.

    Raises:
        DataError: a snippet's metadata is not JSON-serialisable (nothing is written).
    """
    dest = Path(path)
    _write_lines_atomically((_dump_line(s, dest, i) for i, s in enumerate(snippets)), dest)


def write_jsonl_rows(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write plain JSON objects (scored rows, filter results) as JSONL, atomically like :func:`write_jsonl`."""
    _write_lines_atomically((json.dumps(r, ensure_ascii=False, default=float) for r in rows), Path(path))


def _write_lines_atomically(lines: Iterable[str], dest: Path) -> None:
    # Temp file in the same folder, fsync, then rename: readers see the old file or the new one.
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _hf_features() -> Any:
    from datasets import Features, Value

    return Features(
        {
            "id": Value("int64"),
            "prompt": Value("string"),
            "completion": Value("string"),
            "label": Value("string"),
            "source": Value("string"),
            "labeller": Value("string"),
            "split": Value("string"),
            "metadata": Value("string"),
            "prompt_id": Value("string"),
        }
    )


def to_hf_dataset(snippets: Iterable[Snippet]) -> Dataset:
    """Turn snippets into a :class:`datasets.Dataset` with a fixed schema.

    ``metadata`` becomes a JSON string column so the schema does not depend on what the
    metadata holds; :func:`from_hf_dataset` decodes it again.

    Args:
        snippets: the snippets.

    Returns:
        A dataset with string columns ``prompt, completion, label, source, labeller, split,
        metadata, prompt_id`` and an ``int64`` column ``id`` (nulls where unset).

    Raises:
        DataError: a snippet's metadata is not JSON-serialisable.
    """
    from datasets import Dataset

    columns: dict[str, list[Any]] = {name: [] for name in _hf_features()}
    for i, snippet in enumerate(snippets):
        row = {"prompt_id": None, **snippet.to_dict()}  # to_dict leaves out an unset prompt id
        try:
            row["metadata"] = json.dumps(row["metadata"], ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise DataError("<snippets>", i + 1, "metadata", f"cannot be written as JSON ({exc})",
                            "keep metadata to JSON values", unit="item") from None
        for name in columns:
            columns[name].append(row[name])
    return Dataset.from_dict(columns, features=_hf_features())


def _hf_row(row: dict[str, Any], where: str, index: int) -> Snippet:
    meta = row.get("metadata")
    if isinstance(meta, str):
        try:
            row = {**row, "metadata": json.loads(meta) if meta else None}
        except json.JSONDecodeError as exc:
            raise DataError(where, index, "metadata", f"is not valid JSON ({exc.msg})", _FIX_ROW, unit="row") from None
    return snippet_from_row(row, where, index, unit="row")


def from_hf_dataset(ds_or_path: Dataset | str | os.PathLike[str]) -> list[Snippet]:
    """Read snippets from a :class:`datasets.Dataset` or a folder saved with ``save_to_disk``.

    Accepts what :func:`to_hf_dataset` makes (``metadata`` as a JSON string) and also datasets
    whose ``metadata`` is a struct column. Other columns go into ``metadata``.

    Args:
        ds_or_path: the dataset, or the folder it was saved to.

    Returns:
        The snippets in row order.

    Raises:
        DataError: a row is invalid (the message gives its 1-based row number), or the folder
            holds a ``DatasetDict`` rather than a single dataset.
    """
    from datasets import Dataset, DatasetDict, load_from_disk

    where = "<dataset>"
    ds: Any = ds_or_path
    if isinstance(ds_or_path, (str, os.PathLike)):
        where = str(ds_or_path)
        ds = load_from_disk(where)
    if isinstance(ds, DatasetDict):
        raise DataError(where, None, None, f"is a DatasetDict with splits {', '.join(ds)}",
                        "pass one split, e.g. ds['train']")
    if not isinstance(ds, Dataset):
        raise TypeError(f"expected a datasets.Dataset or a path, got {type(ds).__name__}")
    return [_hf_row(dict(row), where, i) for i, row in enumerate(ds, start=1)]
