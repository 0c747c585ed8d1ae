"""Files written whole or not at all: the text goes to a temporary file beside the target,
renamed over it at the end, so a failure (a bad row with --strict, a full disk, Ctrl-C) leaves
the previous file untouched and no half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def atomic_file(path: str) -> Iterator[TextIO]:
    """A text file to write `path` through; lines are streamed (the rows of millions of leads)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".leadscore-", suffix=".tmp")
    except OSError as error:   # name the file asked for, not the temporary one
        raise OSError(error.errno, error.strerror, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_atomically(path: str, text: str) -> None:
    with atomic_file(path) as handle:
        handle.write(text)


def _new_file_mode(path: str) -> int:
    """The mode the file would have had if opened normally (mkstemp makes it private): a
    rewritten file keeps its own."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
