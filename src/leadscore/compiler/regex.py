"""Checking `matches` patterns: every pattern runs on RE2 (see
runtime.compile_pattern), so the checker asks RE2 itself whether it compiles."""

from __future__ import annotations

from .runtime import compile_pattern


def regex_error(pattern: str, flags: str = "") -> str | None:
    """Why RE2 refuses the pattern, or None when it compiles."""
    import re2

    try:
        compile_pattern(pattern, flags)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else b""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return str(reason) or "RE2 cannot compile this pattern"
    except (TypeError, ValueError) as exc:  # e.g. a NUL byte in the pattern
        return str(exc)
    return None
