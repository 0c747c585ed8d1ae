"""The reasons of a lead read off the SQL statement's reason columns (sql/select.py,
`reason_columns`): each rule's points, each group's sum, each block's total and its total
after inactivity, with the final scores. They are put together in the order and with the
rules of the reference interpreter (compiler/interpreter.py, `_score_block`)."""

from __future__ import annotations

import math
from typing import Sequence

from .. import lower as lo
from ..compiler import runtime as rt


class ReasonReader:
    def __init__(self, program: lo.ScoringProgram) -> None:
        self.program = program
        self.event_rules = [r for b in program.blocks for r in b.rules() if isinstance(r, lo.EventRule)]

    def reasons(self, scores: dict[str, float | None], values: Sequence) -> list[tuple]:
        """(score, rule, points, kind, events) tuples, as rt.Reason takes them; `values` are
        the reason columns of one row, in order."""
        position = 0
        blocks = []
        for block in self.program.blocks:
            rules = block.rules()
            points = values[position:position + len(rules)]
            position += len(rules)
            n_groups = sum(isinstance(i, lo.Group) for i in block.items)
            groups = values[position:position + n_groups]
            position += n_groups
            total = values[position]
            position += 1
            after = None
            if block.inactivity is not None:
                after = values[position]
                position += 1
            blocks.append((block, points, groups, total, after))
        counts = dict(zip((id(r) for r in self.event_rules), values[position:]))
        out: list[tuple] = []
        for block, points, groups, total, after in blocks:
            out += self._block(block, points, groups, total, after, scores[block.name], counts)
        return out

    @staticmethod
    def _block(block: lo.ScoreBlock, points, groups, total, after, final, counts) -> list[tuple]:
        if not math.isfinite(total):   # too large to represent: missing, with no reasons
            return []
        name, found, k, g = block.name, [], 0, 0
        for item in block.items:
            members = item.rules if isinstance(item, lo.Group) else (item,)
            for rule in members:
                if points[k] != 0:
                    events = counts.get(id(rule)) if isinstance(rule, lo.EventRule) else None
                    found.append((name, rule.name, points[k], "rule", events))
                k += 1
            if isinstance(item, lo.Group):
                limited = rt.limit_group(groups[g], item.limit)
                if limited != groups[g]:
                    found.append((name, item.name, limited - groups[g], "group", None))
                g += 1
        current = total
        if after is not None and after != total:
            found.append((name, "inactivity", after - total, "inactivity", None))
            current = after
        if block.clamp is not None and final != current:
            found.append((name, "clamp", final - current, "clamp", None))
        return found
