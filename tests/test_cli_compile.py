"""`leadscore compile`: a standalone module with the same score()."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from leadscore.cli import main
from scoring_helpers import AS_OF, ago, build, event

RULES = """score interest {
  decay half_life 30d
  visit: +2 per page_view, max 10
  demo: +50 per demo_request, decay none
}
threshold hot: interest >= 40
"""


def test_standalone_module_needs_only_the_standard_library(tmp_path):
    ruleset = build(tmp_path, RULES)
    out = tmp_path / "scorer.py"
    result = CliRunner().invoke(main, ["compile", str(tmp_path / "t" / "rules.score"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    events = [event("page_view", ago(days=3)), event("demo_request", ago(days=10))]
    expected = ruleset.compile().score({}, events, AS_OF, explain=True)
    # -S: no site-packages, so neither leadscore nor any third-party package.
    program = (f"import scorer; r = scorer.score({{}}, {events!r}, {AS_OF.isoformat()!r}); "
               "print(repr(r.scores['interest']), r.thresholds['hot'])")
    run = subprocess.run([sys.executable, "-S", "-c", program], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    assert run.stdout.split() == [repr(expected.scores["interest"]), str(expected.thresholds["hot"])]


def test_compile_to_stdout_is_deterministic(tmp_path):
    build(tmp_path, RULES)
    path = str(tmp_path / "t" / "rules.score")
    first = CliRunner().invoke(main, ["compile", path]).output
    second = CliRunner().invoke(main, ["compile", path]).output
    assert first == second and "def evaluate(F, G, T, explain=False):" in first


def test_compile_refuses_a_ruleset_with_errors(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "schema.yaml").write_text("lead:\n  fields:\n    x: number\n")
    (folder / "r.score").write_text('ruleset "b" version 1\nschema "schema.yaml"\nscore s {\n  a: +1 if y > 1\n}\n')
    out = tmp_path / "never.py"
    result = CliRunner().invoke(main, ["compile", str(folder / "r.score"), "-o", str(out)])
    assert result.exit_code == 1
    assert "LS300" in result.output and not out.exists()


def test_user_text_reaches_generated_code_only_escaped(tmp_path):
    # A string and a rule name crafted to break out of a literal or a comment.
    rules = ('score fit {\n  `x\\"); import os; #`: +1 if title == "\\"); __import__(\'os\').system(\'touch pwned\') #"\n}')
    folder = tmp_path / "t"
    ruleset = build(tmp_path, rules)
    scorer = ruleset.compile()
    assert scorer.score({"title": "nope"}, [], AS_OF).scores["fit"] == 0
    payload = "\"); __import__('os').system('touch pwned') #"
    assert scorer.score({"title": payload}, [], AS_OF).scores["fit"] == 1
    assert not (folder / "pwned").exists()
