"""The release: the sdist and the wheel built from it, as `python -m build` makes them in
the release workflow, hold everything leadscore reads at run time, and the wheel works
installed into a fresh virtual environment, from a folder outside the source tree.

Slow (a build, a venv): marked `packaging`; it runs in CI with the rest. The build
requirements come from the package index; leadscore's own dependencies are not
downloaded again: a `.pth` file lends the new environment this one's site-packages,
where leadscore itself is at most an editable install, which a `.pth` line does not
activate (only the `.pth` files of a real site folder run), so `leadscore` can only be
imported from the wheel.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
# What leadscore reads at run time besides its modules, as paths inside the package.
DATA_FILES = ("grammar/scoring.lark", "dsl/schema_format.json", "testing/test_format.json",
              "templates/init/README.md", "templates/init/github/workflows/leadscore.yml",
              "templates/init/pre-commit-config.yaml", "templates/init/rules/scoring.score",
              "templates/init/rules/schema.yaml", "templates/init/rules/scoring.test.yaml",
              "templates/init/history/leads.csv", "templates/init/history/events.csv",
              "templates/init/history/outcomes.csv")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def _run(args, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The sdist and the wheel, built from a copy of the files a release is made of (so the
    build leaves nothing in this checkout, where a stray egg-info would shadow the installed
    package's metadata)."""
    root = tmp_path_factory.mktemp("release")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "MANIFEST.in"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    # No --no-isolation: the build requirements are those pyproject.toml names, as in CI.
    _run([sys.executable, "-m", "build", "--outdir", root / "dist", source], root, _clean_env(), 600)
    (sdist,) = (root / "dist").glob("*.tar.gz")
    (wheel,) = (root / "dist").glob("*.whl")
    return {"root": root, "sdist": sdist, "wheel": wheel}


def test_sdist_and_wheel_hold_the_data_files_and_the_version(built):
    assert built["wheel"].name == f"leadscore-{VERSION}-py3-none-any.whl"
    assert built["sdist"].name == f"leadscore-{VERSION}.tar.gz"
    with zipfile.ZipFile(built["wheel"]) as wheel:
        in_wheel = set(wheel.namelist())
        metadata = wheel.read(f"leadscore-{VERSION}.dist-info/METADATA").decode()
    for name in DATA_FILES:
        assert f"leadscore/{name}" in in_wheel, name
    assert "leadscore/cli.py" in in_wheel
    assert f"Version: {VERSION}" in metadata and "Requires-Dist: lark" in metadata
    with tarfile.open(built["sdist"]) as sdist:
        in_sdist = {name.partition("/")[2] for name in sdist.getnames()}
    for name in DATA_FILES:
        assert f"src/leadscore/{name}" in in_sdist, name
    for name in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"):
        assert name in in_sdist, name


def test_twine_check_passes_as_in_the_release_workflow(built):
    pytest.importorskip("twine", reason="twine is a test dependency (pip install -e '.[test]')")
    done = _run([sys.executable, "-m", "twine", "check", "--strict", built["sdist"], built["wheel"]],
                built["root"], _clean_env())
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_works_in_a_fresh_environment_outside_the_checkout(built):
    root = built["root"]
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], root, _clean_env())
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   root, _clean_env()).stdout.strip()
    lent = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib, "test-dependencies.pth").write_text("\n".join(lent) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--quiet", built["wheel"]], root, _clean_env())

    work = root / "work"
    work.mkdir()
    env = _clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    where = _run([python, "-c", "import leadscore; print(leadscore.__file__); print(leadscore.__version__)"],
                 work, env).stdout.split()
    assert Path(where[0]).is_relative_to(venv) and where[1] == VERSION
    leadscore = venv / "bin" / "leadscore"
    assert _run([leadscore, "--version"], work, env).stdout.strip() == f"leadscore {VERSION}"

    created = _run([leadscore, "init", "rules-repo"], work, env)
    # Installed from a wheel file, not from an index: CI could not install it as is.
    assert "WARNING" in created.stderr and "--requirement" in created.stderr
    project = work / "rules-repo"
    assert "checked 1 file: 0 errors, 0 warnings" in _run([leadscore, "check"], project, env).stdout
    _run([leadscore, "fmt", "--check"], project, env)
    assert "4 passed" in _run([leadscore, "test", "--coverage-min", "100"], project, env).stdout
    _run([leadscore, "simulate", "rules/scoring.score", "--history", "history/", "-o", "report.md"],
         project, env)
    assert (project / "report.md").read_text().startswith("#")
