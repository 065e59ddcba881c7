"""Exports (JSONL, HF datasets), the instructions, the CLI verbs and the app's migration."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner

from nines.cli.main import cli
from nines.data.store import Store, alembic_config, make_engine

from .helpers import PASSWORD, Browser, label_all, seed_queue


def test_labels_export_as_jsonl(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    qid = seed_queue(admin, 3)
    seed_queue(admin, 2, dataset="other", name="q2")
    assert label_all(as_user("lab"), qid, "injurious") == 3
    r = admin.get("/api/admin/export/labels.jsonl?dataset=d1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert len(rows) == 3 and {x["label"] for x in rows} == {"injurious"} and {x["labeller"] for x in rows} == {"lab"}
    assert {"prompt", "completion", "snippet_id", "note", "created_at", "current_label"} <= set(rows[0])
    assert len(admin.get("/api/admin/export/labels.jsonl").text.splitlines()) == 3


def test_labels_export_keeps_each_prompts_id(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin = as_user("admin")
    items = [{"prompt": "Ann climbed the wall.", "completion": "She fell and broke her arm.", "prompt_id": "p-1"},
             {"prompt": "Ann climbed the wall.", "completion": "She waved from the top."}]
    assert admin.post("/api/admin/snippets", {"dataset": "ids", "items": items}).status_code == 201
    qid = admin.post("/api/admin/queues", {"name": "ids", "dataset": "ids", "strategy": "sequential"}).json()["id"]
    assert label_all(as_user("lab"), int(qid), "safe") == 2
    rows = [json.loads(line) for line in admin.get("/api/admin/export/labels.jsonl?dataset=ids").text.splitlines()]
    assert sorted(r["prompt_id"] or "" for r in rows) == ["", "p-1"]  # none stored for the second: null


def test_labels_export_as_a_hugging_face_dataset(app: Any, as_user: Callable[[str], Browser], tmp_path: Path) -> None:
    from datasets import load_from_disk

    admin = as_user("admin")
    qid = seed_queue(admin, 2)
    label_all(as_user("lab"), qid, "safe")
    r = admin.get("/api/admin/export/labels-hf.zip")
    assert r.status_code == 200
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path)
    ds = load_from_disk(str(tmp_path / "labels"))
    assert len(ds) == 2 and set(ds["label"]) == {"safe"} and "prompt" in ds.column_names


def test_instructions_default_to_the_guide_and_are_versioned(app: Any, as_user: Callable[[str], Browser]) -> None:
    admin, lab = as_user("admin"), as_user("lab")
    first = lab.get("/api/instructions").json()
    assert first["version"] == 0 and "injurious" in first["body"]
    assert "<table>" in lab.get("/instructions").text  # the guide's label table renders
    assert admin.send("PUT", "/api/admin/instructions", {"body": "# New rules\n\nBe careful."}).json()["version"] == 1
    now = lab.get("/api/instructions").json()
    assert now["version"] == 1 and now["author"] == "admin" and "<h1>New rules</h1>" in now["html"]
    assert "Be careful." in lab.get("/instructions").text


def _run(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_cli_creates_users_and_tokens(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    r = _run(["user", "create", "bob", "--role", "labeller", "--role", "rater", "--db", db],
             env={"NINES_PASSWORD": PASSWORD})
    assert r.exit_code == 0, r.output
    assert "labeller, rater" in r.output
    dup = CliRunner().invoke(cli, ["user", "create", "bob", "--role", "rater", "--db", db],
                             env={"NINES_PASSWORD": PASSWORD})
    assert dup.exit_code != 0 and "taken" in dup.output
    weak = CliRunner().invoke(cli, ["user", "create", "eve", "--role", "rater", "--db", db],
                              env={"NINES_PASSWORD": "short"})
    assert weak.exit_code != 0 and "at least 8" in weak.output
    tok = _run(["user", "token", "bob", "--db", db])
    assert tok.exit_code == 0 and tok.output.strip().startswith("nines_")
    missing = CliRunner().invoke(cli, ["user", "token", "nobody", "--db", db])
    assert missing.exit_code != 0 and "no active user" in missing.output
    assert "--create-admin" in _run(["serve", "--help"]).output


def test_migration_0003_downgrades_and_upgrades(db_url: str) -> None:
    with Store(db_url) as store:
        assert store.schema_version() >= "0003"
        store.add([], dataset="kept")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn, alembic_config(conn) as cfg:
            command.downgrade(cfg, "0002")
        assert "users" not in sa.inspect(engine).get_table_names()
        with engine.begin() as conn, alembic_config(conn) as cfg:
            command.upgrade(cfg, "head")
        tables = set(sa.inspect(engine).get_table_names())
        assert {"users", "sessions", "submissions", "comparisons", "redteam_finds"} <= tables
    finally:
        engine.dispose()
    with Store(db_url) as store:
        assert store.datasets() == ["kept"]


def test_settings_refuse_nonsense() -> None:
    from nines.app.settings import AppSettings

    with pytest.raises(ValueError, match="max_body_bytes"):
        AppSettings(max_body_bytes=10)
