"""Progress bars per stage, on the same rule for every runner.

Examples
--------
>>> wants_progress(False), wants_progress(True)
(False, True)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from spillframe.physical.plan import PhysicalPlan


def wants_progress(option: bool | None) -> bool:
    """The runner's ``progress`` option, or by default: on when stderr is a terminal
    or ``SPILLFRAME_PROGRESS=1``."""
    if option is not None:
        return bool(option)
    return os.environ.get("SPILLFRAME_PROGRESS", "") == "1" or sys.stderr.isatty()


def stage_bars(plan: PhysicalPlan, keys: Iterable[tuple[int, int]]) -> dict[int, Any]:
    """One tqdm bar per stage of ``keys`` (the tasks that will run), named
    ``operator [stage id]``, counting tasks; close them when the query ends."""
    from tqdm.auto import tqdm

    counts: dict[int, int] = {}
    for stage_id, _ in keys:
        counts[stage_id] = counts.get(stage_id, 0) + 1
    return {
        sid: tqdm(
            total=n,
            desc=f"{plan.stages[sid].name} [{sid}]",
            leave=False,
            unit="task",
            position=i,
        )
        for i, (sid, n) in enumerate(sorted(counts.items()))
    }
