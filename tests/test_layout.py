"""The shape of the code: no import cycles, no module past about 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("digest", "scheduler")
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ours that ``name`` imports when it is loaded (module level, type-only
    imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in tree.body:
        block = [node]
        if isinstance(node, ast.If):
            block = [*node.body, *node.orelse]
        for statement in block:
            if isinstance(statement, ast.Import):
                targets.update(alias.name for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom):
                base = statement.module or ""
                if statement.level:
                    anchor = package.split(".")[: len(package.split(".")) - statement.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in statement.names)
    return {t for t in targets if t in known and t != name}


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", sorted(_modules()))
def test_modules_stay_small(name):
    lines = len(_modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by what its parts do"


def test_the_readme_layout_names_every_module():
    """Each module has its line in the README's Layout section, under its package."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    listed: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped or "  " not in line and not stripped.endswith("/"):
            continue
        name = stripped.split()[0]
        depth = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= depth:
            stack.pop()
        path = "/".join([p for _, p in stack] + [name.rstrip("/")])
        if name.endswith("/"):
            stack.append((depth, name.rstrip("/")))
        listed.add(path)
    missing = sorted(
        str(path.relative_to(ROOT))
        for name, path in _modules().items()
        if str(path.relative_to(ROOT)) not in listed
    )
    assert not missing, f"add a line for each to the README's Layout section: {missing}"
