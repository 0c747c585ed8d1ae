"""Files written whole or not at all: the text goes to a temporary file beside the target,
renamed over it at the end, so a failure (a bad row with --strict, a full disk, Ctrl-C, SIGTERM)
leaves the previous file untouched and no half-written one. The temporary file of a killed
writer is removed by the next write into that folder (leadscore.scratch).

A target that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a named pipe) is
written in place: a rename would put a plain file where the device or pipe was."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from .scratch import temporary_beside
from .signals import hold_back


class RewriteRefused(Exception):
    """A file `rewrite_file` will not touch; the message says why, in plain words."""


@contextmanager
def atomic_file(path: str) -> Iterator[TextIO]:
    """A text file to write `path` through; lines are streamed (the rows of millions of leads)."""
    if _is_special(path):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    release = hold_back()
    try:
        fd, temporary = temporary_beside(path)
    except OSError as error:   # name the file asked for, not the temporary one
        release()
        raise OSError(error.errno, error.strerror, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            release()   # a signal held back is raised here, where the file will be removed
            yield handle
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    finally:
        release()


def write_atomically(path: str, text: str) -> None:
    with atomic_file(path) as handle:
        handle.write(text)


def rewrite_file(path: str, read: str, new: str) -> None:
    """Replace the text of an existing file, `read` earlier, with `new` (`leadscore fmt`).

    A symbolic link stays a link: its target is rewritten. A file with several hard links is
    rewritten in place (the same inode, so every name sees the new text; not atomic, as a rename
    would cut the links). A file without write permission is refused, and so is a file whose
    content is no longer `read` (someone edited it meanwhile): their edit wins."""
    target = os.path.realpath(path)
    status = os.stat(target)
    if not status.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
        raise RewriteRefused("the file is read-only")
    expected = read.encode("utf-8")
    if status.st_nlink > 1:
        with open(target, "r+b") as handle:
            _refuse_if_changed(handle.read(), expected)
            handle.seek(0)
            handle.write(new.encode("utf-8"))
            handle.truncate()
        return
    with atomic_file(target) as handle:
        handle.write(new)
        with open(target, "rb") as current:   # last look before the rename
            _refuse_if_changed(current.read(), expected)


def _is_special(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _refuse_if_changed(current: bytes, expected: bytes) -> None:
    if current != expected:
        raise RewriteRefused("the file changed while it was being formatted")


def _new_file_mode(path: str) -> int:
    """The mode the file would have had if opened normally (mkstemp makes it private): a
    rewritten file keeps its own."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
