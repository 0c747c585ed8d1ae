"""`leadscore test`: run the test cases kept beside a ruleset, report failures and rule coverage."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ..safe_text import shown

if TYPE_CHECKING:
    from ..api import Scorer
    from ..dsl.checker import CheckedRuleset
    from ..testing.coverage import BranchChooser
    from ..testing.model import CoverageItem


@dataclass
class _Tested:
    """One ruleset under test: loaded once, however many test files name it."""

    display: str
    checked: CheckedRuleset | None    # None when the rule file has errors
    scorer: Scorer | None = None
    chooser: BranchChooser | None = None
    items: tuple[CoverageItem, ...] = ()


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to print the results.")
@click.option("--coverage-min", type=click.FloatRange(0, 100), metavar="PCT",
              help="Fail when a ruleset's rule coverage is below PCT percent.")
@click.option("--allow-outside", is_flag=True,
              help="Allow a ruleset path (in a test file) or a schema path (in a rule file) "
                   "that leads outside its file's folder.")
def command(paths: tuple[str, ...], output_format: str, coverage_min: float | None,
            allow_outside: bool) -> None:
    """Run test files (every *.test.yaml under folders; default: this folder).

    Exit status: 0 every case passed, 1 a failure, an invalid test file or
    coverage below --coverage-min, 2 usage error.
    """
    from ..api import Ruleset
    from ..dsl.diagnostics import sort_key
    from ..loader import load_ruleset
    from ..testing.cases import build_case_file
    from ..testing.coverage import BranchChooser, coverage_items, measure
    from ..testing.loader import find_test_files, read_test_file, resolve_ruleset
    from ..testing.report import Run, render_json_report, render_text_report
    from ..testing.runner import run_case_file

    given = list(paths) or ["."]
    files = find_test_files(given)
    if not files:
        raise click.UsageError(shown("no *.test.yaml files found under " + ", ".join(given)))
    run = Run(files, coverage_min=coverage_min)
    tested: dict[str, _Tested] = {}
    for path in files:
        test = read_test_file(path)
        run.sources[path] = test.source.splitlines()
        run.diagnostics.extend(test.diagnostics)
        if test.data is None:
            continue
        ruleset_path, problem = resolve_ruleset(test, allow_outside)
        if problem is not None:
            run.diagnostics.append(problem)
            continue
        key = os.path.realpath(ruleset_path)
        if key not in tested:
            loaded = load_ruleset(ruleset_path, allow_outside_schema=allow_outside)
            for name, text in loaded.sources.items():
                run.sources[name] = text.splitlines()
            tested[key] = _Tested(ruleset_path, loaded.checked)
            if loaded.checked is None:
                run.diagnostics.extend(d for d in loaded.diagnostics if d.is_error)
            else:
                tested[key].scorer = Ruleset(loaded.checked).compile()
                tested[key].chooser = BranchChooser(loaded.checked)
                tested[key].items = coverage_items(loaded.checked, loaded.sources[ruleset_path])
        ruleset = tested[key]
        if ruleset.checked is None:
            continue
        case_file, diagnostics = build_case_file(test.data, path, ruleset.display, ruleset.checked)
        run.diagnostics.extend(diagnostics)
        if any(d.is_error for d in test.diagnostics):
            # A file of the wrong shape may hold expectations this pass could not
            # read: none of its cases runs, though each of its problems is reported.
            run.invalid_cases.extend((case.name, case.span) for case in case_file.cases)
        else:
            run.outcomes.extend(run_case_file(case_file, ruleset.scorer.score, ruleset.chooser))
        run.invalid_cases.extend(case_file.invalid)

    run.diagnostics.sort(key=sort_key)
    # A ruleset none of whose cases ran (its test files have errors) has no coverage to speak of.
    run.coverages = [measure(r.display, r.checked, r.items, outcomes)
                     for r in tested.values()
                     if (outcomes := [o for o in run.outcomes if o.ruleset == r.display])]
    click.echo(render_json_report(run) if output_format == "json" else render_text_report(run))
    sys.exit(0 if run.ok else 1)
