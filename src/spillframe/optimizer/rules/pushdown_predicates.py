"""Move filters towards the sources: through projections, sorts, concats and joins,
and into scans whose format applies them (Parquet: row-group statistics skip data that
cannot match)."""

from __future__ import annotations

from spillframe.expr.expression import Alias, Column, Expression
from spillframe.expr.predicates import conjoin, conjuncts, is_deterministic, substitute_columns
from spillframe.logical import nodes as L
from spillframe.optimizer.rules.transform import transform_down


def pushdown_predicates(plan: L.LogicalPlan) -> L.LogicalPlan:
    """Push every ``Filter`` as far down as it keeps its meaning."""
    return transform_down(plan, _push)


def _push(node: L.LogicalPlan) -> L.LogicalPlan:
    if not isinstance(node, L.Filter) or node.predicate is None:
        return node
    child, predicate = node.child, node.predicate
    if not is_deterministic(predicate):
        return node
    if isinstance(child, L.Filter) and child.predicate is not None:
        return L.Filter(child.child, predicate=child.predicate & predicate)
    if isinstance(child, L.Project):
        return _through_project(node, child)
    if isinstance(child, (L.Sort, L.Repartition)):
        return child.with_children((L.Filter(child.child, predicate=predicate),))
    if isinstance(child, L.Concat):
        return L.Concat(
            L.Filter(child.left, predicate=predicate), L.Filter(child.right, predicate=predicate)
        )
    if isinstance(child, L.Join):
        return _into_join(node, child)
    if isinstance(child, L.ScanSource):
        return _into_scan(node, child)
    return node


def _through_project(node: L.Filter, project: L.Project) -> L.LogicalPlan:
    # Only columns the projection passes through (possibly renamed) can move below it.
    renames: dict[str, str] = {}
    for expr in project.exprs:
        inner = expr.child if isinstance(expr, Alias) else expr
        if isinstance(inner, Column):
            renames[expr.output_name()] = inner.name
    movable: list[Expression] = []
    stay: list[Expression] = []
    for part in conjuncts(node.predicate):  # type: ignore[arg-type]
        (movable if part.column_names() <= renames.keys() else stay).append(part)
    if not movable:
        return node
    below = L.Filter(project.child, predicate=substitute_columns(conjoin(movable), renames))
    result: L.LogicalPlan = project.with_children((below,))
    return L.Filter(result, predicate=conjoin(stay)) if stay else result


def _into_join(node: L.Filter, join: L.Join) -> L.LogicalPlan:
    left_names = set(join.left.schema.names)
    right_out = _right_output_names(join)
    to_left, to_right, stay = [], [], []
    for part in conjuncts(node.predicate):  # type: ignore[arg-type]
        cols = part.column_names()
        if (
            join.how in ("inner", "left", "semi", "anti")
            and cols <= left_names
            and not cols & set(right_out)
        ):
            to_left.append(part)
        elif join.how in ("inner", "right") and cols and cols <= set(right_out):
            to_right.append(substitute_columns(part, right_out))
        else:
            stay.append(part)
    if not to_left and not to_right:
        return node
    left = L.Filter(join.left, predicate=conjoin(to_left)) if to_left else join.left
    right = L.Filter(join.right, predicate=conjoin(to_right)) if to_right else join.right
    result: L.LogicalPlan = join.with_children((left, right))
    return L.Filter(result, predicate=conjoin(stay)) if stay else result


def _right_output_names(join: L.Join) -> dict[str, str]:
    """Output name -> right column, for right columns that keep a name of their own."""
    left = set(join.left.schema.names)
    mapping = {}
    for name in join.right.schema.names:
        if name in join.right_on and name in join.left_on:
            continue  # the key is shared with (and coalesced from) the left side
        out = name
        if name in left:
            out = f"{name}{join.suffix}" if join.suffix else f"{join.prefix}{name}"
        if out in join.schema.names and out not in left:
            mapping[out] = name
    return mapping


def _into_scan(node: L.Filter, scan: L.ScanSource) -> L.LogicalPlan:
    """The conditions the scan's format applies itself go into the scan."""
    pushable: list[Expression] = []
    stay: list[Expression] = []
    for part in conjuncts(node.predicate):  # type: ignore[arg-type]
        (pushable if scan.scan_format.can_push_filter(part, scan) else stay).append(part)
    if not pushable:
        return node
    existing = [scan.predicate] if scan.predicate is not None else []
    new_scan = scan.replace(predicate=conjoin(existing + pushable))
    # The scan filters rows exactly (not only by statistics), so pushed parts are done.
    return L.Filter(new_scan, predicate=conjoin(stay)) if stay else new_scan
