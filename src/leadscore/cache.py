"""Where leadscore keeps what it may reuse between runs (Lark's parse tables,
which schema texts were found valid).

Lark's cache is a pickle, so it must never come from a folder another user
can write: the cache lives in the user's own cache folder, and a folder that
is not private to this user is not used at all (every run then builds
afresh, which is only slower).
"""

from __future__ import annotations

import os
import stat
import sys


def cache_dir() -> str | None:
    """The private cache folder, created if needed; None when unusable."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "leadscore")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError:
        return None
    if sys.platform != "win32":
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
    return path if os.access(path, os.W_OK) else None
