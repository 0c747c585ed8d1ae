"""`leadscore compile`: a standalone Python module for a ruleset, or one SQL SELECT statement."""

from __future__ import annotations

import click

from ..safe_text import shown
from .common import load_or_exit, parse_instant, write_atomically
