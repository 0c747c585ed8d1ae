"""What `leadscore init` writes into the generated CI and pre-commit configuration:
the requirement that installs leadscore, and the repository's default branch.

The requirement defaults to the leadscore that runs `init`, read from its installed
metadata (PEP 610 `direct_url.json`): a release from a package index is `leadscore==X`;
a remote VCS checkout is pinned to its commit; an editable, local-folder or local-file
install cannot be reproduced on a CI runner, so `init` writes `leadscore==X` and warns.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..git import git_answer

# A bare version (PEP 440's public part, loosely): `0.2.0`, `1.0rc1`, `2.0.post1`.
_VERSION = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")
_VCS = re.compile(r"(git|hg|svn|bzr)\+[a-z]+://", re.IGNORECASE)
# Branch names written into YAML and Markdown: the characters branch names are made of
# in practice. Anything else falls back to `main` with a warning, never into the files.
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")


@dataclass(frozen=True)
class Requirement:
    """The pip requirement CI installs, and a warning when CI cannot install it as is."""

    spec: str
    warning: str | None = None


def requirement_from_option(text: str) -> Requirement:
    """`--requirement SPEC`: a version (`0.2.0`), a VCS URL (`git+https://...@v0.2.0`),
    a path (`./wheels/leadscore-0.2.0-py3-none-any.whl`), or any pip requirement
    (`leadscore @ ...`, `leadscore>=0.2`). Raises ValueError when it cannot be one."""
    spec = text.strip()
    if not spec or any(not c.isprintable() for c in spec):
        raise ValueError("the requirement must be one line of printable text")
    if "${{" in spec:
        # GitHub would evaluate it as an expression in the workflow.
        raise ValueError("the requirement must not contain `${{`")
    if _VERSION.fullmatch(spec):
        return Requirement(f"leadscore=={spec}")
    if _VCS.match(spec) or spec.startswith(("https://", "http://")):
        return Requirement(f"leadscore @ {spec}")
    if spec.startswith(("./", "../")) or (spec.endswith((".whl", ".tar.gz", ".zip")) and "@" not in spec
                                          and not os.path.isabs(spec)):
        return Requirement(spec, "a relative path works in CI, which installs from the repository's root, "
                                 "but not in pre-commit,\nwhich installs hook dependencies from a folder "
                                 "of its own: give pre-commit an absolute path or a URL.")
    return Requirement(spec)


def installed_requirement() -> Requirement:
    """The requirement that installs the leadscore running now (module docstring)."""
    from importlib import metadata

    try:
        distribution = metadata.distribution("leadscore")
    except metadata.PackageNotFoundError:
        return Requirement("leadscore", "this leadscore is not installed as a package (it runs from a "
                           "source tree), so which release CI should install is unknown.\nThe generated "
                           "files install the latest `leadscore`; give init --requirement SPEC to pin one.")
    version = distribution.version
    try:
        origin = json.loads(distribution.read_text("direct_url.json") or "null")
    except ValueError:
        origin = {}
    if origin is None:
        return Requirement(f"leadscore=={version}")   # from a package index: a release
    url = str(origin.get("url", "")) if isinstance(origin, dict) else ""
    vcs = origin.get("vcs_info") if isinstance(origin, dict) else None
    if isinstance(vcs, dict) and not url.startswith("file:") and vcs.get("commit_id"):
        spec = f"leadscore @ {vcs.get('vcs', 'git')}+{url}@{vcs['commit_id']}"
        if all(c.isprintable() for c in spec):
            return Requirement(spec)
    how = ("an editable install" if isinstance(origin, dict) and origin.get("dir_info", {}).get("editable")
           else "a local install")
    return Requirement(
        f"leadscore=={version}",
        f"this leadscore is {how} ({url or 'no URL'}), which a CI runner cannot install.\n"
        f"The generated workflow and pre-commit configuration install `leadscore=={version}` from\n"
        "the package index, which fails unless that release exists there. Give init\n"
        "--requirement SPEC (a released version like 0.2.0, a Git URL like\n"
        "git+https://github.com/ORG/leadscore@v0.2.0, or a path to a wheel in the repository),\n"
        "or edit LEADSCORE_REQUIREMENT in .github/workflows/leadscore.yml and\n"
        "additional_dependencies in .pre-commit-config.yaml.")


def default_branch(folder: Path) -> tuple[str, str | None]:
    """The default branch of the Git repository `folder` is (or will be) in, and a warning
    when its name cannot be used. In order: the remote's default (`origin/HEAD`); the branch
    of HEAD (in a new repository, the branch its first commit goes to); Git's
    `init.defaultBranch`; `main`."""
    start = next((p for p in (folder, *folder.parents) if p.is_dir()), Path("."))
    remote = git_answer(start, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    candidates = [remote.partition("/")[2] if remote else None,
                  git_answer(start, "symbolic-ref", "--quiet", "--short", "HEAD"),
                  git_answer(start, "config", "--get", "init.defaultBranch")]
    name = next((c for c in candidates if c), None)
    if name is None:
        return "main", None
    if _BRANCH.fullmatch(name) and ".." not in name:
        return name, None
    return "main", (f"the default branch's name {name!r} has characters the generated files "
                    "do not take; they name `main` instead: edit them if that is wrong")
