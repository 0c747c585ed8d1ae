"""Asking Git about the repository a ruleset is in: the one place leadscore runs it.

`--against REV` (simulate, diff) reads files as they were at a revision (`file_at_revision`,
`text_at_revision`: the commands hand the texts to the stage that checks them); `init` names
the repository's default branch. Arguments are passed as a list, never through a shell, and
output is read as UTF-8 with undecodable bytes replaced.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import PurePosixPath


class GitFailed(Exception):
    """Git did not answer: the message says why, for the user."""


class GitMissing(GitFailed):
    """No `git` program to run."""


class NoSuchRevision(GitFailed):
    """The repository has no commit of that name; `root` is the repository's top folder."""

    def __init__(self, root: str):
        super().__init__(root)
        self.root = root


class NotInRevision(GitFailed):
    """The file is not in the revision."""


@dataclass(frozen=True)
class FileAtRevision:
    root: str                   # the repository's top folder
    relative: PurePosixPath     # the file's path inside the repository
    text: str                   # its content at the revision


def file_at_revision(path: str, revision: str, timeout: float = 60) -> FileAtRevision:
    """`path`, a file of a working tree, as it was at `revision` (a commit, branch or tag; the
    caller refuses one starting with '-'). GitFailed when Git cannot answer."""
    folder = os.path.dirname(os.path.abspath(path))
    root = run_git(folder, "rev-parse", "--show-toplevel", timeout=timeout).strip()
    relative = PurePosixPath(os.path.relpath(os.path.realpath(path), os.path.realpath(root)).replace(os.sep, "/"))
    try:
        run_git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", timeout=timeout)
    except GitMissing:
        raise
    except GitFailed:
        raise NoSuchRevision(root) from None
    try:
        run_git(root, "cat-file", "-e", f"{revision}:{relative}", timeout=timeout)
    except GitMissing:
        raise
    except GitFailed:
        raise NotInRevision(str(relative)) from None
    return FileAtRevision(root, relative, run_git(root, "show", f"{revision}:{relative}", timeout=timeout))


def text_at_revision(root: str, revision: str, relative: PurePosixPath, timeout: float = 60) -> str:
    """The file at `relative` inside the repository at `root`, as it was at `revision`."""
    return run_git(root, "show", f"{revision}:{relative}", timeout=timeout)


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
