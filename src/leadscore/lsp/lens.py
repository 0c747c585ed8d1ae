"""The code lens on each threshold: how many leads crossed it in the last
quarter of the history kept beside the ruleset.

The history is the folder `history/` next to the rule file (or the folder the
`history` initialization option names, relative to the rule file; like the
schema, it must stay inside the rule file's folder). The replay goes through
the simulator, the same replay `leadscore simulate` does, in one background
thread, once typing pauses; an edit supersedes it: a replay not yet started
never starts, and one running stops at its next bucket."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ..dsl.checker import CheckedRuleset

QUARTER_DAYS = 90
# A replay starts once the document has not changed for this long.
TYPING_PAUSE_SECONDS = 0.4
DEFAULT_HISTORY = "history"


class Superseded(Exception):
    """The document changed while its replay ran."""


@dataclass(frozen=True)
class Crossings:
    counts: dict[str, int] | None   # threshold -> leads that crossed it in the last quarter
    problem: str | None = None      # why the history could not be replayed


def history_folder(rule_path: str | None, setting: str | None) -> str | None:
    """The history folder of a rule file, when there is one inside its folder."""
    if rule_path is None:
        return None
    folder = os.path.dirname(os.path.realpath(rule_path))
    target = os.path.realpath(os.path.join(folder, setting or DEFAULT_HISTORY))
    if os.path.commonpath([folder, target]) != folder or not os.path.isdir(target):
        return None
    return target


def replay(checked: CheckedRuleset, rule_path: str, folder: str, stale: Callable[[], bool]) -> Crossings:
    """Replay the history; count per threshold the leads whose crossing lies in
    the last 90 days of the replay window (which ends at the midnight after
    the history's last timestamp)."""
    from ..simulator.history import HistoryFiles
    from ..simulator.instants import DAY
    from ..simulator.run import Options, simulate
    from ..simulator.variants import UsageError, Variant
    from ..tables import ProblemLog, TableError

    def progress(done: int, total: int) -> None:
        if stale():
            raise Superseded

    if stale():
        raise Superseded
    try:
        files = HistoryFiles.find(folder, {})
        simulation = simulate([Variant("baseline", checked, rule_path)], files, Options(), ProblemLog(keep=0),
                              progress=progress)
    except (TableError, UsageError) as error:
        return Crossings(None, str(error))
    since = simulation.window.end - QUARTER_DAYS * DAY
    crossings = simulation.outcomes[0].crossings
    names = simulation.plans[0].scorer.thresholds
    return Crossings({name: int((crossings[:, i] >= since).sum()) for i, name in enumerate(names)})


def lens_title(found: Crossings | None, threshold: str) -> str:
    if found is None:
        return "replaying the history…"
    if found.counts is None:
        return f"history not replayed: {found.problem}"
    count = found.counts.get(threshold)
    if count is None:
        return "replaying the history…"
    return f"{count} lead{'s' * (count != 1)} crossed it in the last {QUARTER_DAYS} days of the history"
