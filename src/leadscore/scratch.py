"""What a run leaves on disk while it works — the spill folders of `score` and `simulate` in the
temporary directory, the `.leadscore-<pid>-*.tmp` file beside an output being written — and how
the leftovers of a killed run are found and removed by a later one.

A run removes its own on any exit Python sees (an error, Ctrl-C, SIGTERM: see `signals`).
After SIGKILL or a power cut nothing runs, so every such name carries the writer's process id
and the writer holds an exclusive `flock` on it: a later run removes a leftover only when that
process is gone and nobody holds the lock (the lock guards against a process of the same id on
another machine or container sharing the folder).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .signals import hold_back

try:
    import fcntl
except ImportError:   # Windows: no locks and no safe liveness test, so leftovers are kept
    fcntl = None

SPILL_PREFIX = "leadscore-spill-"
TEMPORARY_PREFIX = ".leadscore-"
TEMPORARY_SUFFIX = ".tmp"
_SPILL_NAME = re.compile(re.escape(SPILL_PREFIX) + r"(\d+)-[^/]*\Z")
_TEMPORARY_NAME = re.compile(re.escape(TEMPORARY_PREFIX) + r"(\d+)-[^/]*" + re.escape(TEMPORARY_SUFFIX) + r"\Z")


@contextmanager
def spill_folder() -> Iterator[str]:
    """A new, locked folder in the temporary directory, removed on exit; the leftovers of killed
    runs are removed first."""
    remove_stale_spill_folders()
    release = hold_back()
    folder = lock = None
    try:
        folder = tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-")
        if fcntl is not None:
            lock = os.open(folder, os.O_RDONLY)
            fcntl.flock(lock, fcntl.LOCK_EX)
        release()   # a signal held back is raised here, where the folder will be removed
        yield folder
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        if lock is not None:
            os.close(lock)
        release()


def remove_stale_spill_folders() -> None:
    """The spill folders of killed runs (every `score` and `simulate` run starts with this, as
    a small run makes no folder of its own)."""
    remove_leftovers(tempfile.gettempdir(), _SPILL_NAME)


def temporary_beside(path: str) -> tuple[int, str]:
    """An open, locked temporary file in the folder of `path` (to be renamed over it), after
    removing what killed writers left in that folder."""
    folder = os.path.dirname(os.path.abspath(path))
    remove_leftovers(folder, _TEMPORARY_NAME)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-",
                                     suffix=TEMPORARY_SUFFIX)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, temporary


def remove_leftovers(folder: str, pattern: re.Pattern) -> None:
    """Remove the entries of `folder` named by `pattern` whose writer is gone: this user's, not
    a symbolic link, the process named gone and the lock free. Best effort: an entry that
    cannot be inspected or removed is left, never an error of this run."""
    if fcntl is None:
        return
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if os.fstat(fd).st_uid != os.getuid():
                raise PermissionError   # in a shared temporary directory: another user's
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue   # its writer still holds it
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True   # this run's own (a second spill folder, or an output being written)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):   # no such process; an id too large for one
        return False
    except PermissionError:   # a process of another user
        return True
    return True
