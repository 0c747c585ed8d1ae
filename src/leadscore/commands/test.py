"""`leadscore test`: run the test cases kept beside a ruleset, report failures and rule coverage."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import click

from ..safe_text import shown

if TYPE_CHECKING:
    from ..api import Scorer
    from ..dsl.checker import CheckedRuleset
    from ..dsl.diagnostics import Span
    from ..testing.coverage import BranchChooser
    from ..testing.model import CoverageItem
    from ..testing.report import Run


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
@click.option("--coverage-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: print the coverage as one JSON document for tools, and the report on stderr.")
@click.option("-k", "patterns", multiple=True, metavar="PATTERN",
              help="Run only the cases whose name contains PATTERN (any case; repeatable: any of them).")
@click.option("--update", is_flag=True,
              help="Write the actual scores, thresholds and segments over the expected ones that fail, "
                   "in place (comments and layout kept).")
@click.option("--allow-outside", is_flag=True,
              help="Allow a ruleset path (in a test file) or a schema path (in a rule file) "
                   "that leads outside its file's folder.")
def command(paths: tuple[str, ...], output_format: str, coverage_min: float | None, coverage_format: str,
            patterns: tuple[str, ...], update: bool, allow_outside: bool) -> None:
    """Run test files (every *.test.yaml under folders; default: this folder).

    Exit status: 0 every case passed (with --update: every failed expectation was
    rewritten), 1 a failure, an invalid test file or coverage below --coverage-min,
    2 usage error (no test file, no case matching -k).
    """
    from ..api import Ruleset
    from ..dsl.diagnostics import sort_key
    from ..loader import load_ruleset
    from ..testing.cases import build_case_file
    from ..testing.coverage import BranchChooser, coverage_items, measure
    from ..testing.coverage_report import render_coverage_json
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
        if patterns:
            chosen = tuple(c for c in case_file.cases if _selected(c.name, patterns))
            run.deselected += len(case_file.cases) - len(chosen)
            case_file = replace(case_file, cases=chosen)
        if any(d.is_error for d in test.diagnostics):
            # A file of the wrong shape may hold expectations this pass could not
            # read: none of its cases runs, though each of its problems is reported.
            run.invalid_cases.extend((case.name, case.span) for case in case_file.cases)
        else:
            run.outcomes.extend(run_case_file(case_file, ruleset.scorer.score, ruleset.chooser))
        run.invalid_cases.extend(case_file.invalid)

    if patterns and not run.outcomes and not run.invalid_cases and not run.diagnostics:
        raise click.UsageError("no case name contains " + " or ".join(map(repr, patterns)))
    run.diagnostics.sort(key=sort_key)
    # A ruleset none of whose cases ran (its test files have errors) has no coverage to speak of.
    run.coverages = [measure(r.display, r.checked, r.items, outcomes)
                     for r in tested.values()
                     if (outcomes := [o for o in run.outcomes if o.ruleset == r.display])]
    report = render_json_report(run) if output_format == "json" else render_text_report(run)
    if coverage_format == "json":
        click.echo(report, err=True)
        click.echo(render_coverage_json(run))
    else:
        click.echo(report)
    if not update:
        sys.exit(0 if run.ok else 1)
    rewritten = _update(run)
    unresolved = [o for o in run.failed if any(m.span not in rewritten for m in o.mismatches)]
    sys.exit(0 if not unresolved and not run.files_with_errors and not run.below_minimum else 1)


def _selected(name: str, patterns: tuple[str, ...]) -> bool:
    folded = name.casefold()
    return any(pattern.casefold() in folded for pattern in patterns)


def _update(run: Run) -> set[Span]:
    """Write the actual values over the failed expectations; the spans rewritten."""
    from ..testing.update import apply, edits
    from .common import write_atomically

    by_file: dict[str, list] = {}
    for edit in edits(run.outcomes, run.sources):
        by_file.setdefault(edit.span.file, []).append(edit)
    rewritten = set()
    for file, file_edits in by_file.items():
        try:
            with open(file, encoding="utf-8", newline="") as handle:   # CRLF stays CRLF
                text = handle.read()
            write_atomically(file, apply(text, file_edits))
        except OSError as error:
            click.echo(f"error: {file}: not updated: {error.strerror or error}", err=True)
            continue
        for edit in sorted(file_edits, key=lambda e: (e.span.line, e.span.column)):
            click.echo(f"updated {file}:{edit.span.line}:{edit.span.column}: {edit.what}: "
                       f"{edit.old} → {edit.new}", err=True)
            rewritten.add(edit.span)
    return rewritten
