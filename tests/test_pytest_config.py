"""The project's pytest configuration keeps the summary line CI logs show the counts with."""

from __future__ import annotations

import re
import subprocess
import sys

from helpers import REPO


def test_a_quiet_run_still_ends_with_the_counts(tmp_path):
    # `-q` on the command line on top of a `-q` in addopts silences the summary line.
    (tmp_path / "test_sample.py").write_text("def test_one():\n    assert True\n\n"
                                             "def test_two():\n    assert False\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
                           str(tmp_path / "test_sample.py")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?1 failed, 1 passed in [\d.]+s( \([\d:]+\))? ?=*", last), done.stdout


def test_the_slow_spark_tests_run_by_default():
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert any(marker.startswith("slow:") for marker in config["markers"])
    assert "slow" not in config.get("addopts", "")   # never deselected unless asked (-m 'not slow')
