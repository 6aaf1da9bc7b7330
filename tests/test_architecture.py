"""The package's layers hold (docs/architecture.md): every import of `spm` code, module level or inside
a function, goes to the same floor or a lower one; the simulator stands beside the product; no
module-level import cycle; no module grows past the size a reader takes in at once."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "spm"

# Bottom to top. A unit is a subpackage of spm or a top-level module of it.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "settings", "privacy", "reference", "config", "airflow_env"}),
    frozenset({"sources", "opd_template"}),
    frozenset({"quality"}),
    frozenset({"warehouse"}),
    frozenset({"ingest"}),
    frozenset({"indicators"}),
    frozenset({"reporting"}),
    frozenset({"alerts"}),
    frozenset({"orchestration", "dags", "cli", "demo", "benchmarks"}),
)
SIMULATOR = "simulator"
SIMULATOR_MAY_IMPORT = FLOORS[0] | FLOORS[1]  # the contracts it serves, never the product's logic
MAY_IMPORT_SIMULATOR = frozenset({"demo", "benchmarks", "cli"})
MAX_LINES = 500


def floor_of(unit: str) -> int:
    for i, units in enumerate(FLOORS):
        if unit in units:
            return i
    raise AssertionError(f"spm.{unit} is on no floor of tests/test_architecture.py: place it")


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _sources() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(imported spm module, line, at module level) for every import of spm code in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "spm":
            if node.module == "spm":
                found += [(f"spm.{a.name}", node.lineno, id(node) in top) for a in node.names]
            else:
                found.append((node.module, node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno, id(node) in top) for a in node.names if a.name.startswith("spm.")]
    return found


def layer_violations() -> list[str]:
    bad = []
    for path in _sources():
        module = _module_name(path)
        unit = _unit(module)
        if not unit:
            continue
        for target, line, _ in imports_of(path):
            to = _unit(target)
            if not to or to == unit:
                continue
            where = f"{path.relative_to(SRC.parent)}:{line} imports {target}"
            if unit == SIMULATOR:
                if to not in SIMULATOR_MAY_IMPORT:
                    bad.append(f"{where}: the simulator may import only the contracts and base modules")
            elif to == SIMULATOR:
                if unit not in MAY_IMPORT_SIMULATOR:
                    bad.append(f"{where}: product code must not depend on the simulator")
            elif floor_of(to) > floor_of(unit):
                bad.append(f"{where}: spm.{unit} (floor {floor_of(unit)}) reaches up to spm.{to} (floor {floor_of(to)})")
    return bad


def module_cycles() -> list[list[str]]:
    """Cycles of module-level imports between modules (Tarjan's strongly connected components)."""
    modules = {_module_name(p): p for p in _sources()}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target, _, top in imports_of(path):
            if top and target in modules and target != name:
                graph[name].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in list(modules):
        if v not in index:
            visit(v)
    return cycles


def test_every_unit_is_on_a_floor():
    units = {_unit(_module_name(p)) for p in _sources()} - {"", SIMULATOR}
    for unit in sorted(units):
        floor_of(unit)


def test_no_import_reaches_up_a_floor():
    assert layer_violations() == []


def test_no_module_level_import_cycle():
    assert module_cycles() == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_over_the_size_limit(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC.parent)} has {lines} lines (> {MAX_LINES}): split it by concept"


def test_the_checks_catch_a_violation(tmp_path, monkeypatch):
    """The checker itself: an upward import, a product module importing the simulator and a cycle are found."""
    pkg = tmp_path / "spm"
    for sub in ("sources", "warehouse", "simulator"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "sources" / "a.py").write_text("from spm.warehouse.b import x\n")
    (pkg / "warehouse" / "b.py").write_text("from spm.sources.a import y\n\ndef f():\n    from spm.simulator import s\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", pkg)
    problems = layer_violations()
    assert any("sources/a.py:1 imports spm.warehouse.b" in p and "reaches up" in p for p in problems), problems
    assert any("warehouse/b.py:4 imports spm.simulator" in p for p in problems), problems
    assert module_cycles() == [["spm.sources.a", "spm.warehouse.b"]]


@pytest.mark.parametrize("path", sorted((SRC / "orchestration").glob("*.py")), ids=lambda p: p.name)
def test_no_task_shadows_a_function_of_its_module(path):
    """A @task defined in a DAG builder under the name of a plain function of the same module would
    call itself (a TypeError only when the DAG runs): task ids and plain functions keep apart."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    plain = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    shadowing = sorted(inner.name for builder in tree.body if isinstance(builder, ast.FunctionDef)
                       for inner in ast.walk(builder)
                       if isinstance(inner, ast.FunctionDef) and inner is not builder and inner.name in plain)
    assert shadowing == [], f"{path.name}: tasks named like plain functions of the module: {shadowing}"
