"""Measure spillframe's package graph: cycles between subpackages and deferred imports.

Run from the repository root::

    python tools/import_graph.py            # summary
    python tools/import_graph.py --verbose  # every edge and every deferred import

A *package* is a first-level name under ``spillframe`` (``spillframe.expr``,
``spillframe.kernels``, ``spillframe.udf``...); the root ``spillframe/__init__.py`` is the
public facade that imports everything and is left out of the graph. An import is
*deferred* when it sits inside a function (or method) body; imports under
``if TYPE_CHECKING:`` are counted apart, since they never run. Cycles are reported for
the graph of every runtime import (module level and deferred), because a deferred import
only hides a cycle from the interpreter, not from the reader; and for the module-level
graph alone, which is what Python sees at import time.

The script reads the source with :mod:`ast` and imports nothing, so it measures a tree
that does not import (mid-refactor) as well as one that does.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = "spillframe"


@dataclass(frozen=True, slots=True)
class Import:
    """One imported spillframe module, where it is imported and how."""

    source: str
    target: str
    scope: str  # "module", "deferred" or "type_checking"
    line: int
    path: Path


def module_names(src: Path) -> dict[str, Path]:
    """Every module under ``src/spillframe`` by dotted name."""
    names = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, scope: str):
    """Yield (import node, scope) pairs under ``node``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, scope
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, "deferred")
        elif isinstance(child, ast.If) and _is_type_checking(child.test) and scope == "module":
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), "type_checking")
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), scope)
        else:
            yield from _walk(child, scope)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """The spillframe modules that ``module`` imports, one entry per imported module."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node, scope in _walk(tree, "module"):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _resolve(module, is_package, node)
            # "from pkg import mod" imports the module pkg.mod; "from mod import name" imports mod.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in dict.fromkeys(targets):
            if target == ROOT or target.startswith(ROOT + "."):
                found.append(Import(module, target, scope, node.lineno, path))
    return found


def package_of(module: str) -> str | None:
    """The first-level package of a module, None for the root facade."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else None


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one node (the package cycles), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def package_graph(imports: list[Import], scopes: set[str]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in imports:
        source, target = package_of(imp.source), package_of(imp.target)
        if imp.scope in scopes and source and target and source != target:
            graph[source].add(target)
    return graph


def mutual_pairs(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Package pairs that import each other directly (the two-package cycles)."""
    return sorted((a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, ()))


def short(name: str) -> str:
    return name.removeprefix(ROOT + ".")


def report(src: Path, verbose: bool) -> dict[str, object]:
    known = module_names(src)
    imports = [imp for module, path in known.items() for imp in imports_of(module, path, known)]
    deferred = [imp for imp in imports if imp.scope == "deferred"]
    type_checking = [imp for imp in imports if imp.scope == "type_checking"]
    runtime = package_graph(imports, {"module", "deferred"})
    module_level = package_graph(imports, {"module"})
    figures = {
        "deferred_imports": len(deferred),
        "type_checking_imports": len(type_checking),
        "runtime_cycles": strongly_connected(runtime),
        "runtime_mutual_pairs": mutual_pairs(runtime),
        "module_level_cycles": strongly_connected(module_level),
    }
    print(f"function-level (deferred) imports of spillframe modules: {len(deferred)}")
    print(f"imports under TYPE_CHECKING (never run): {len(type_checking)}")
    for label, key in (
        ("package cycles, all runtime imports", "runtime_cycles"),
        ("package cycles, module-level imports only", "module_level_cycles"),
    ):
        cycles = figures[key]
        print(f"{label}: {len(cycles)}")
        for component in cycles:
            print("   ", " <-> ".join(short(name) for name in component))
    pairs = figures["runtime_mutual_pairs"]
    print(f"package pairs importing each other (runtime): {len(pairs)}")
    for a, b in pairs:
        print(f"    {short(a)} <-> {short(b)}")
    if verbose:
        print("\ndeferred imports (file:line -> module):")
        for imp in deferred:
            print(f"    {imp.path.relative_to(src.parent)}:{imp.line} -> {imp.target}")
        print("\npackage edges (runtime, with import counts):")
        counts = Counter(
            (package_of(imp.source), package_of(imp.target))
            for imp in imports
            if imp.scope != "type_checking"
        )
        for (a, b), n in sorted(counts.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
            if a and b and a != b:
                print(f"    {short(a)} -> {short(b)}: {n}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parent.parent / "src")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    report(args.src, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
