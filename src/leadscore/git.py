"""Asking Git about the repository a ruleset is in: the one place leadscore runs it.

`--against REV` (simulate, diff) reads files as they were at a revision; `init` names the
repository's default branch. Arguments are passed as a list, never through a shell, and
output is read as UTF-8 with undecodable bytes replaced.
"""

from __future__ import annotations

import os
import subprocess


class GitFailed(Exception):
    """Git did not answer: the message says why, for the user."""


class GitMissing(GitFailed):
    """No `git` program to run."""


def run_git(folder: str | os.PathLike, *args: str, timeout: float = 60) -> str:
    """Git's output for `git -C folder ARGS`; GitFailed when it fails, with its first line of
    complaint."""
    command = f"git {' '.join(args)}"
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise GitMissing("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitFailed(f"{command} did not answer within {_duration(timeout)}") from None
    except OSError as exc:
        raise GitFailed(f"{command}: {exc.strerror or 'cannot run git'}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitFailed(f"{command}: {message[0] if message else 'failed'}")
    return done.stdout.decode("utf-8", "replace")


def git_answer(folder: str | os.PathLike, *args: str, timeout: float = 10) -> str | None:
    """Git's one-line answer, or None (no Git, not a repository, no such ref)."""
    try:
        answer = run_git(folder, *args, timeout=timeout).strip()
    except GitFailed:
        return None
    return answer if answer and "\n" not in answer else None


def _duration(seconds: float) -> str:
    return "a minute" if seconds == 60 else f"{seconds:g} seconds"
