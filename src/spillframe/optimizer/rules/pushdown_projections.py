"""Read only the columns a query uses: prune projections and narrow scans."""

from __future__ import annotations

from collections import Counter
from typing import Any

from spillframe.expr.expression import Expression
from spillframe.logical import nodes as L
from spillframe.logical import reshape as R


def pushdown_projections(plan: L.LogicalPlan) -> L.LogicalPlan:
    """Drop unused projected expressions and unread scan columns.

    A subtree that occurs more than once keeps the union of the columns its uses need,
    so that its copies stay identical and the plan computes it once (see
    ``physical.shared``) instead of twice with different columns.
    """
    return _prune(plan, None, _shared_requirements(plan))


_UNSEEN = object()


def _shared_requirements(plan: L.LogicalPlan) -> dict[Any, set[str] | None]:
    """For each subtree occurring more than once: the union of what its uses require."""
    counts = Counter(n.key for n in plan.walk())
    repeated = {k for k, n in counts.items() if n > 1 and k is not None}
    unions: dict[Any, Any] = {}
    if not repeated:
        return unions

    def visit(node: L.LogicalPlan, required: set[str] | None) -> None:
        key = node.key
        if key in repeated:
            seen = unions.get(key, _UNSEEN)
            unions[key] = required if seen is _UNSEEN else _merge(seen, required)
        for child, needed in zip(node.children(), _requirements(node, required)):
            visit(child, needed)

    visit(plan, None)
    return unions


def _merge(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    return None if a is None or b is None else a | b


def _requirements(node: L.LogicalPlan, required: set[str] | None) -> list[set[str] | None]:
    """What each child must produce, as :func:`_prune` asks of it."""
    if isinstance(node, L.Project):
        return [_columns(_kept_exprs(node, required))]
    needed = _child_requirements(node, required)
    return needed if needed is not None else [None] * len(node.children())


def _kept_exprs(node: L.Project, required: set[str] | None) -> tuple[Expression, ...]:
    """The projected expressions ``required`` asks for; at least one, so that the row
    count survives."""
    if required is None:
        return node.exprs
    return tuple(e for e in node.exprs if e.output_name() in required) or node.exprs[:1]


def _columns(exprs: tuple[Expression, ...] | list[Expression]) -> set[str]:
    found: set[str] = set()
    for e in exprs:
        found |= e.column_names()
    return found


def _prune(
    node: L.LogicalPlan,
    required: set[str] | None,
    unions: dict[Any, set[str] | None],
) -> L.LogicalPlan:
    """``node`` rewritten to produce at least the ``required`` columns (all if None)."""
    if unions:
        key = node.key
        if key in unions:
            required = _merge(required, unions[key])
    if isinstance(node, L.ScanSource):
        return _prune_scan(node, required)
    if isinstance(node, L.Project):
        exprs = _kept_exprs(node, required)
        child = _prune(node.child, _columns(exprs), unions)
        if child is node.child and len(exprs) == len(node.exprs):
            return node
        return L.Project(child, exprs=exprs)
    needed = _child_requirements(node, required)
    if needed is None:
        return node
    children = node.children()
    new = tuple(_prune(c, r, unions) for c, r in zip(children, needed))
    if all(a is b for a, b in zip(children, new)):
        return node
    return node.with_children(new)


def _child_requirements(
    node: L.LogicalPlan, required: set[str] | None
) -> list[set[str] | None] | None:
    """What each child must produce so that ``node`` produces ``required``."""
    if isinstance(node, L.Filter):
        assert node.predicate is not None  # Filter refuses to be built without one
        return [None if required is None else required | node.predicate.column_names()]
    if isinstance(node, (L.Limit, L.Sample, L.IntoPartitions, R.Offset, R.SampleRows)):
        return [required]
    if isinstance(node, R.RepeatRows):
        return [None if required is None else required | {node.times}]
    if isinstance(node, R.Unpivot):
        return [set(node.ids) | set(node.values)]
    if isinstance(node, L.Repartition):
        return [None if required is None else required | _columns(node.keys)]
    if isinstance(node, (L.Sort, L.TopK)):
        return [None if required is None else required | _columns(node.keys)]
    if isinstance(node, L.Explode):
        return [None if required is None else required | set(node.columns)]
    if isinstance(node, L.Aggregate):
        return [_columns(node.keys) | _columns(node.aggs)]
    if isinstance(node, L.Distinct):
        return [None if required is None or not node.on else required | set(node.on)]
    if isinstance(node, L.Concat):
        return [required, required]
    if isinstance(node, L.Join):
        return _join_requirements(node, required)
    if isinstance(node, L.Write):
        return [None]  # every column is written
    return None


def _join_requirements(node: L.Join, required: set[str] | None) -> list[set[str] | None]:
    if required is None or node.how == "cross":
        return [None, None]
    left_names, right_names = set(node.left.schema.names), set(node.right.schema.names)
    # Columns whose names clash across sides stay, so the right side's renaming
    # ("right.x") and therefore the join's output names do not change.
    clashing = left_names & right_names
    left = (required & left_names) | set(node.left_on) | clashing
    right = set(node.right_on) | clashing
    for name in right_names:
        renamed = {name, f"{node.prefix}{name}"}
        if node.suffix:
            renamed.add(f"{name}{node.suffix}")
        if renamed & required:
            right.add(name)
    return [left, right]


def _prune_scan(scan: L.ScanSource, required: set[str] | None) -> L.LogicalPlan:
    if required is None:
        return scan
    names = scan.file_schema.names
    columns = tuple(n for n in names if n in required)
    if not columns:  # e.g. count_rows(): read the narrowest column for the row count
        columns = (names[0],)
    current = scan.columns if scan.columns is not None else tuple(names)
    if current == columns:
        return scan
    return scan.replace(columns=columns)
