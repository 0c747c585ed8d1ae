"""Stopping a long run in order. `score` and `simulate` turn SIGINT (Ctrl-C) and SIGTERM (a CI
job cancelled, a container stopped) into an exception in the main thread, so every `finally`
and `with` on the way out runs: the spill folder and the temporary output file are removed, and
worker processes are ended. The exit status is the shell's convention, 128 + the signal number
(130 for SIGINT, 143 for SIGTERM). Worker processes leave the stopping to the main process and
end quietly, without tracebacks."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_STOPPING = (signal.SIGINT, signal.SIGTERM)
_held = 0                   # hold_back()s not yet released, in this process
_pending: int | None = None  # a signal that arrived meanwhile
_PR_SET_PDEATHSIG = 1


class Interrupted(BaseException):
    """Raised in the main thread by SIGINT or SIGTERM; a BaseException, so that no `except
    Exception` on the way out takes it for an error of the run."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def stopped_in_order() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise Interrupted. On leaving after one: a line on standard
    error and exit 128 + the signal number."""
    if threading.current_thread() is not threading.main_thread():
        yield   # signal handlers can only be set in the main thread
        return
    previous = {signum: signal.signal(signum, _raise_interrupted) for signum in _STOPPING}
    try:
        yield
    except Interrupted as interrupted:
        name = signal.Signals(interrupted.signum).name
        sys.stderr.write(f"stopped by {name}; temporary files removed\n")
        sys.exit(128 + interrupted.signum)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def hold_back() -> Callable[[], None]:
    """Hold SIGINT and SIGTERM back until the returned function is called (later calls do
    nothing), so that a file or folder and the `finally` that removes it are made as one step.

    Blocking the signals in this thread is not enough: another thread (a progress display,
    pyarrow's) may receive one, and Python then runs the handler in this thread anyway. So the
    handler itself also holds a signal that arrives meanwhile, and the last release raises it."""
    global _held
    if not hasattr(signal, "pthread_sigmask"):   # Windows
        return lambda: None
    masked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    _held += 1
    released = False

    def release() -> None:
        global _held, _pending
        nonlocal released
        if released:
            return
        released = True
        _held -= 1
        signal.pthread_sigmask(signal.SIG_SETMASK, masked)
        if not _held and _pending is not None:
            signum, _pending = _pending, None
            _raise_interrupted(signum, None)

    return release


def _raise_interrupted(signum: int, frame) -> None:
    global _pending
    if _held:
        _pending = _pending or signum
        return
    # A second signal ends the process at once: an exception raised where Python cannot
    # propagate it (a finalizer) is lost, and the user must still be able to stop the run.
    signal.signal(signum, signal.SIG_DFL)
    raise Interrupted(signum)


@contextmanager
def worker_pool(jobs: int):
    """A pool of `jobs` forked worker processes that start quiet (`quiet_worker`), ended on
    leaving. The stopping signals are held back while it forks: in a new worker until it has
    its own handlers, in this process until the pool is entered, so that Interrupted is never
    raised inside fork's bookkeeping (where it is ignored) nor before the pool can be ended."""
    import multiprocessing

    release = hold_back()
    try:
        pool = multiprocessing.get_context("fork").Pool(jobs, quiet_worker, (os.getpid(),))
    except BaseException:
        release()
        raise
    with pool:
        release()   # a signal held back is raised here, where the pool will be ended
        yield pool


def quiet_worker(parent: int) -> None:
    """The initializer of worker processes. Ctrl-C reaches the whole process group, but only the
    main process (`parent`) decides: it ends the workers with SIGTERM, which ends a worker at
    once. On Linux the end of the main process, even by SIGKILL, sends a worker SIGTERM too
    (elsewhere a worker of a killed run waits for work until it is killed). A result sent to a
    main process that is gone ends the worker instead of raising BrokenPipeError."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if sys.platform == "linux":
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:   # the main process ended before the line above
            signal.raise_signal(signal.SIGTERM)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)   # held back since the fork
