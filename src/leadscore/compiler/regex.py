"""Regexes run on RE2: linear time whatever the pattern, so an untrusted rule
file cannot stall a scorer with catastrophic backtracking."""

from __future__ import annotations

import re2


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern to stderr
    options.case_sensitive = True
    return options


def _with_flags(pattern: str, flags: str) -> str:
    return f"(?i){pattern}" if "i" in flags else pattern


def compile_pattern(pattern: str, flags: str = ""):
    return re2.compile(_with_flags(pattern, flags), _options())


def regex_error(pattern: str, flags: str = "") -> str | None:
    """Why RE2 refuses the pattern, or None when it compiles."""
    try:
        re2.compile(_with_flags(pattern, flags), _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else b""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return str(reason) or "RE2 cannot compile this pattern"
    except (TypeError, ValueError) as exc:  # e.g. a NUL byte in the pattern
        return str(exc)
    return None
