"""Guards against silent nonsense in `simulate` (docs/simulate.md, "Notes"): a field no history
table gives a value, rules that never give points, values the schema does not declare. On the
six-lead history of simulate_cli_support.py.
"""

from __future__ import annotations

from pathlib import Path

from simulate_cli_support import BODY, EVENTS, LEADS, OUTCOMES, invoke, loads
from test_simulator_support import history, ruleset

SIZED = BODY.replace("  demo: +30 per demo_request, decay none\n",
                     "  demo: +30 per demo_request, decay none\n  size: +5 if employees > 100\n"
                     "  quit: -50 per unsubscribe\n")


def run(rules: Path, folder: Path, *args) -> dict:
    result = invoke(rules, "--history", folder, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return loads(result.stdout)


def test_a_field_no_table_gives_a_value_is_named_with_the_rules_reading_it(tmp_path):
    rules = ruleset(tmp_path / "rules", SIZED)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = run(rules, folder)
    [note] = [n for n in report["notes"] if "no value in any history table" in n]
    assert "`employees`" in note and "`interest.size`" in note
    text = invoke(rules, "--history", folder).stdout
    assert "no value in any history table" in text
    # one lead with a value: the field is exercised
    given = [dict(lead, employees=500) if lead["lead_id"] == "L2" else lead for lead in LEADS]
    other = history(tmp_path / "other", given, EVENTS, OUTCOMES)
    assert not [n for n in run(rules, other)["notes"] if "no value in any history table" in n]


def test_rules_count_the_leads_they_gave_points_and_idle_ones_stand_out(tmp_path):
    rules = ruleset(tmp_path / "rules", SIZED)
    folder = history(tmp_path / "history", LEADS, EVENTS, OUTCOMES)
    report = run(rules, folder)
    # at the mql crossing (L1, L2, L4, L6) or the last instant in the window (L3, L5): the page
    # views of every lead but L2, L2's demo request; nobody has employees or unsubscribes
    assert report["variants"]["baseline"]["rules"] == {"interest.view": 5, "interest.demo": 1, "interest.size": 0,
                                                       "interest.quit": 0}
    assert any("`interest.size` and `interest.quit` gave no lead points" in n for n in report["notes"])
    page = invoke(rules, "--history", folder, "--format", "html").stdout
    assert 'id="rules"' in page and '<span class="down">0</span>' in page


def test_values_the_schema_does_not_declare_are_noted(tmp_path):
    rules = ruleset(tmp_path / "rules", BODY)
    leads = [dict(lead, industry={"L1": "Media", "L2": "Media", "L3": "Software"}.get(lead["lead_id"]))
             for lead in LEADS]
    folder = history(tmp_path / "history", leads, EVENTS, OUTCOMES)
    [note] = [n for n in run(rules, folder)["notes"] if "do not declare" in n]
    assert "`industry`" in note and "'Media' (2)" in note and "Software" not in note
    clean = history(tmp_path / "clean", LEADS, EVENTS, OUTCOMES)
    assert not [n for n in run(rules, clean)["notes"] if "do not declare" in n]
