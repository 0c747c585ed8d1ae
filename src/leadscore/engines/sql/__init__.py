"""The SQL form of a ScoringProgram: one SELECT statement built as a sqlglot tree
(select.py), written for a dialect (dialects.py)."""

from .dialects import DIALECTS, to_sql
from .select import SqlUnsupported, build_select

__all__ = ["DIALECTS", "SqlUnsupported", "build_select", "to_sql"]
