"""The package's import graph, read from the source: layers, no cycles, a pure ``nines.stats``.

The graph is built with :mod:`ast` over ``src/nines`` (nothing is imported), from every ``import``
statement: module level, inside functions and under ``if TYPE_CHECKING:`` alike, because a lazy
import is still a dependency and only hides a cycle until the day someone hoists it.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "nines"

#: The allowed layer order, lowest first. A package may import only packages in a strictly lower
#: layer, never one beside it or above it, so the order is the whole dependency policy in one place.
#: Why this order: the foundations know nothing of nines; records and the Generator protocol come
#: next; StoryWorld, judges and the classifier are built on them; the filter combines a generator and
#: a classifier; evaluation, scaling and serving run the filter; adversarial training and distillation
#: use evaluation; the app uses all of those; recipes orchestrate whole runs, the CLI calls the recipes
#: and ``nines.testing`` (scaffolding for tests and benchmarks) sits on top, imported by nothing in src.
#: Moving a package here is a design decision; when a test below fails, first try moving the shared
#: piece down a layer instead.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("config", "manifest", "shared", "stats"),  # no nines imports at all; stats is numpy/scipy/statsmodels only
    ("tasks",),  # the predicate as configuration (name, labels, instructions, score field); config and manifest only
    ("data", "generate"),  # the Snippet record, I/O and seed set; Prompt, the Generator protocol, backends
    ("storyworld", "judge", "classify", "oracle"),  # the exact-oracle world; judges; the classifier; oracles
    ("filter", "active"),  # rejection sampling; active learning
    ("scale", "proxy", "evaluate"),  # Ray/shards; the filtering server; failure rates and the report
    ("adversarial", "distill"),  # attacks and adversarial training; distillation
    ("app",),  # the web app
    ("recipes",),  # whole runs: the demo, evaluation, adversarial training, distillation
    ("pipeline",),  # the demo's old import path
    ("cli",),  # the thin CLI over the recipes
    ("__main__",),  # python -m nines
    ("testing",),  # test and benchmark scaffolding: never imported by the library
)

#: What ``nines.stats`` may import besides itself and the standard library.
STATS_THIRD_PARTY = frozenset({"numpy", "scipy", "statsmodels"})


@dataclass(frozen=True)
class Edge:
    """One import: ``module`` (in ``path`` at ``line``) imports ``target``."""

    module: str
    target: str
    path: str
    line: int
    lazy: bool  # inside a function or ``if TYPE_CHECKING:``, so not run when the module is imported

    @property
    def src_pkg(self) -> str:
        return package_of(self.module)

    @property
    def dst_pkg(self) -> str:
        return package_of(self.target)

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def package_of(module: str) -> str:
    """``nines.stats.winrate`` -> ``stats``; ``nines.config`` -> ``config``; ``nines`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _all_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _resolve(base: str, name: str | None, modules: dict[str, Path]) -> list[str]:
    """``from base import name``: the submodule ``base.name`` when it exists, else ``base``."""
    if name is not None and f"{base}.{name}" in modules:
        return [f"{base}.{name}"]
    return [base]


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _walk(tree: ast.AST, lazy: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node, with whether it runs later than import time (in a function, or for type checkers)."""
    for child in ast.iter_child_nodes(tree):
        yield child, lazy
        deferred = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, deferred or _is_type_checking(child))


def _edges_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    rel = str(path.relative_to(SRC.parent.parent))
    for node, lazy in _walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [t for a in node.names for t in _resolve(base, a.name, modules)]
        for t in dict.fromkeys(targets):  # one edge per statement and target
            yield Edge(module, t, rel, node.lineno, lazy)


@functools.cache
def import_edges() -> tuple[Edge, ...]:
    """Every import statement in ``src/nines``, as edges."""
    modules = _all_modules()
    return tuple(e for m, p in modules.items() for e in _edges_of(m, p, modules))


def _nines_edges() -> list[Edge]:
    return [e for e in import_edges() if e.target == "nines" or e.target.startswith("nines.")]


def _package_edges() -> dict[tuple[str, str], list[Edge]]:
    """Edges between different top-level packages (the root facade ``nines`` left out)."""
    out: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for e in _nines_edges():
        if e.src_pkg and e.dst_pkg and e.src_pkg != e.dst_pkg:
            out[(e.src_pkg, e.dst_pkg)].append(e)
    return out


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node (the cycles), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _layer_of() -> dict[str, int]:
    return {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


# ---- the graph builder sees what it should (so that the tests below cannot pass vacuously) --------

def test_graph_sees_module_level_lazy_and_relative_imports() -> None:
    edges = _nines_edges()
    pairs = {(e.module, e.target) for e in edges}
    assert ("nines.filter.rejection", "nines.classify.base") in pairs  # module level
    assert any(e.lazy and e.src_pkg != e.dst_pkg for e in edges)  # imports inside functions count too
    assert len({e.src_pkg for e in edges}) >= 10


def test_strongly_connected_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_layers_are_disjoint() -> None:
    names = [p for layer in LAYERS for p in layer]
    assert len(names) == len(set(names)), "a package appears in two layers of LAYERS"


# ---- the policy -----------------------------------------------------------------------------------

def test_every_package_has_a_layer() -> None:
    layer = _layer_of()
    packages = {package_of(m) for m in _all_modules()} - {""}
    missing = sorted(packages - set(layer))
    assert not missing, f"packages {missing} are not in LAYERS (tests/test_layering.py): add each where it belongs"


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    edges = _package_edges()
    for a, b in edges:
        graph[a].add(b)
    cycles = strongly_connected(graph)
    lines = []
    for comp in cycles:
        lines.append(f"cycle between {', '.join(comp)}:")
        lines += [f"  {edges[(a, b)][0]}" for a in comp for b in comp if (a, b) in edges]
    assert not cycles, "\n".join(lines)


def test_imports_go_only_down_the_layers() -> None:
    layer = _layer_of()
    bad = []
    for (a, b), es in sorted(_package_edges().items()):
        if a in layer and b in layer and layer[b] >= layer[a]:
            where = "beside" if layer[b] == layer[a] else "above"
            bad += [f"{e} ({b} is {where} {a} in LAYERS)" for e in es]
    assert not bad, "imports that go sideways or up (move the shared piece down a layer):\n" + "\n".join(bad)


def test_stats_is_pure() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = []
    for e in import_edges():
        if e.src_pkg != "stats":
            continue
        top = e.target.split(".")[0]
        if (top == "nines" and e.dst_pkg != "stats") or (top != "nines" and top not in stdlib | STATS_THIRD_PARTY):
            bad.append(str(e))
    assert not bad, ("nines.stats must stay pure (numpy/scipy/statsmodels); code that runs a generator, the "
                     "filter or a judge belongs in nines.evaluate, scaffolding in nines.testing:\n" + "\n".join(bad))


def test_library_never_imports_the_testing_scaffolding() -> None:
    bad = [str(e) for e in _nines_edges() if e.dst_pkg == "testing" and e.src_pkg != "testing"]
    assert not bad, "nines.testing is for tests and benchmarks only:\n" + "\n".join(bad)


def test_root_facade_is_lazy_and_unused_inside() -> None:
    """``nines/__init__`` imports its exports only on first use; the library never imports from it."""
    eager = [str(e) for e in _nines_edges() if e.module == "nines" and not e.lazy]
    assert not eager, "nines/__init__.py must import its exports lazily (in __getattr__):\n" + "\n".join(eager)
    inside = []
    for m, p in _all_modules().items():
        if m == "nines":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "nines" and node.level == 0:
                inside += [f"{m} imports nines.{a.name}" for a in node.names if a.name != "__version__"]
    assert not inside, "import from the subpackage, not the facade:\n" + "\n".join(inside)


def test_no_import_time_cycle_between_modules() -> None:
    """Module-level imports (run at import time) form no cycle between modules either."""
    modules = _all_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for e in _nines_edges():
        if not e.lazy and e.target in modules and e.target != e.module:
            graph[e.module].add(e.target)
    cycles = strongly_connected(graph)
    assert not cycles, f"module-level import cycles (one of each needs to move down or into a function): {cycles}"
