"""The success stage must be one the outcomes table has: a misspelt `--success` would otherwise
report every threshold as useless (no success anywhere) without a word."""

from __future__ import annotations

from collections import Counter

from .variants import UsageError

SHOWN = 10


def require_stage(seen: Counter, stage: str, option: str = "--success") -> None:
    """Raise a UsageError naming the stages seen when outcomes exist but none is at `stage`.
    A history with no outcome at all is allowed: crossings and weekly volume still mean something."""
    if not seen or stage in seen:
        return
    common = ", ".join(f"{name!r} ({count:,})" for name, count in seen.most_common(SHOWN))
    more = f" and {len(seen) - SHOWN:,} more" if len(seen) > SHOWN else ""
    raise UsageError(f"{option} {stage!r}: no outcome has this stage; the outcomes table has {common}{more}")
