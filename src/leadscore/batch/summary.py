"""What a `leadscore score` run reports on standard error, whichever engine scored it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    leads: int      # leads scored (one output row each)
    events: int     # events scored
    later: int      # events after the as-of instant, left out
