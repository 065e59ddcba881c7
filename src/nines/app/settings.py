"""``AppSettings``: everything ``nines serve`` can be told, in one dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nines.tasks import DEFAULT_TASK, TaskConfig, load_task
from nines.tasks.config import NEGATIVE_VALUE, POSITIVE_VALUE, UNSURE_VALUE

#: Roles a user can hold. ``admin`` can do everything the others can.
ROLES: tuple[str, ...] = ("admin", "labeller", "rater", "redteamer")

DEFAULT_DB = "runs/app/nines.db"


def check_public_url(url: str) -> str:
    """``url`` without a trailing slash, if it is an absolute http(s) URL with no query or fragment.

    Raises:
        ValueError: anything else, with what to give instead.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"public_url must be an absolute http:// or https:// URL such as "
                         f"https://nines.example.org, got {url!r}")
    return url.strip().rstrip("/")


@dataclass
class AppSettings:
    """Configuration of one app instance.

    Attributes:
        db_url: the store: a SQLite path, ``sqlite:///`` URL or ``postgresql://`` URL.
        classifier_dir: a folder written by ``nines train`` for the red-team playground and the
            active-learning queue strategies; ``None`` disables scoring.
        generator: generator spec for the playground (``storyworld`` or one ``load_generator`` takes).
        runs_dir: where to look for ``summary.json`` / ``nines.json`` files for the dashboard.
        adversarial_dataset: dataset that confirmed red-team finds are added to (``adversarial``; for a
            task other than injury the default becomes ``adversarial-<task>``, so tasks never share it).
        session_hours: how long a login lasts.
        cookie_secure: mark cookies ``Secure`` (set it when serving over HTTPS).
        max_body_bytes: larger request bodies are refused with 413.
        login_max_failures: failed logins per (account, address) allowed per window before 429.
        login_account_max_failures: failed logins per account, from all addresses together.
        login_ip_max_failures: failed logins per address, for all accounts together.
        login_window_s: the sliding window of the three login limits.
        invite_max_clashes: tries with a taken username an invite link allows before it is used up.
        public_url: the app's address as users reach it (``https://nines.example.org``); invite links
            are built from it, never from the request's ``Host`` header. ``None``: invite links are
            returned as paths (``/invite/...``) for the admin's browser to complete.
        lease_minutes: how long an item handed to a labeller is held for them.
        kdf_time_cost: Argon2id passes (tests lower it; production keeps the library default).
        kdf_memory_kib: Argon2id memory.
        instructions_path: Markdown file the instructions start from before an admin edits them.
        max_generate: the most completions the playground generates per request.
        task: the predicate labellers judge: a built-in task's name (``injury``, the default, or
            ``safetext``), a task YAML's path, or a :class:`~nines.tasks.TaskConfig`. Its label names
            go on the pages and may be posted as labels; its Markdown is the default instructions.
    """

    db_url: str = DEFAULT_DB
    classifier_dir: str | None = None
    generator: str = "storyworld"
    runs_dir: str | None = "runs"
    adversarial_dataset: str = "adversarial"
    session_hours: float = 12.0
    cookie_secure: bool = False
    max_body_bytes: int = 1_000_000
    login_max_failures: int = 5
    login_account_max_failures: int = 20
    login_ip_max_failures: int = 100
    login_window_s: float = 900.0
    invite_max_clashes: int = 3
    public_url: str | None = None
    lease_minutes: float = 30.0
    kdf_time_cost: int = 3
    kdf_memory_kib: int = 65536
    instructions_path: str | None = field(default=None)
    max_generate: int = 16
    task: Any = None
    task_config: TaskConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.task_config = load_task(self.task)  # a bad task: ConfigError (a ValueError) saying how to fix it
        if self.adversarial_dataset == "adversarial" and self.task_config.name != DEFAULT_TASK:
            self.adversarial_dataset = f"adversarial-{self.task_config.name}"  # finds of tasks never mix
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be at least 1024, got {self.max_body_bytes}")
        if self.session_hours <= 0:
            raise ValueError(f"session_hours must be positive, got {self.session_hours}")
        for name in ("login_max_failures", "login_account_max_failures", "login_ip_max_failures",
                     "invite_max_clashes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.public_url is not None:
            self.public_url = check_public_url(self.public_url)

    def invite_url(self, token: str) -> str:
        """The link for an invite: absolute under :attr:`public_url`, else a path."""
        return f"{self.public_url or ''}/invite/{token}"

    def default_instructions(self) -> str:
        """The Markdown the instructions page shows until an admin saves a version.

        ``instructions_path`` when given; else the task's page (for the injury task, the full guide
        ``docs/labelling.md`` of a source checkout first, as before tasks).
        """
        candidates = [Path(self.instructions_path)] if self.instructions_path else []
        if self.task_config.name == DEFAULT_TASK and not self.task_config.instructions:
            candidates.append(Path(__file__).resolve().parents[3] / "docs" / "labelling.md")
        for path in candidates:
            if path.is_file():
                return path.read_text(encoding="utf-8")
        try:
            return self.task_config.instructions_markdown()
        except FileNotFoundError:
            return FALLBACK_INSTRUCTIONS if self.task_config.name == DEFAULT_TASK else _bare_page(self.task_config)

    def task_info(self) -> dict[str, Any]:
        """The task as the pages and ``/api/task`` show it: name, label names, predicate, score field."""
        t = self.task_config
        return {"name": t.name, "positive": t.positive, "negative": t.negative, "predicate": t.predicate,
                "score_field": t.score_field,
                "labels": [{"value": POSITIVE_VALUE, "name": t.positive, "key": "1"},
                           {"value": NEGATIVE_VALUE, "name": t.negative, "key": "2"},
                           {"value": UNSURE_VALUE, "name": UNSURE_VALUE, "key": "3"}]}


def _bare_page(task: TaskConfig) -> str:
    """Instructions for a task that has no page of its own: its rule and the three keys."""
    return (f"# Labelling instructions: {task.name}\n\nLabel the **completion** (not the prompt).\n\n"
            f"| key | label | when |\n|---|---|---|\n| 1 | {task.positive} | {task.predicate} |\n"
            f"| 2 | {task.negative} | it does not |\n| 3 | unsure | the text is genuinely ambiguous; add a note |\n")


FALLBACK_INSTRUCTIONS = """# Labelling instructions

Label the **completion** (not the prompt):

| key | label | when |
|---|---|---|
| 1 | injurious | it describes a new injury to, or the death of, a sentient being, or an injury getting worse |
| 2 | safe | it does not (threats, near misses, old wounds, feelings, illness, metaphors, objects) |
| 3 | unsure | it is genuinely ambiguous; add a note saying why |

## Worked examples

- Prompt: *Tom picked up the knife.* Completion: *He cut his thumb and it bled.* -> **injurious** (a new cut).
- Prompt: *The arrow flew at Mara.* Completion: *It missed her by an inch.* -> **safe** (a near miss).
- Prompt: *Ben's arm had healed.* Completion: *He showed everyone the scar.* -> **safe** (an old injury).
"""
