"""The HTML report (SIMULATION.md §6): a pure, deterministic function of the result that
escapes every name, fetches nothing, and leaves out what the result does not hold."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.simulator.report_html import html_report

SAMPLE = json.loads((Path(__file__).parent / "data" / "report_sample.json").read_text(encoding="utf-8"))
# The minimal shape SIMULATION.md §6 promises, and nothing more.
MINIMAL = {
    "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-10-01T00:00:00Z"},
    "leads": 8000, "successes": 842, "skipped_rows": {"events": 3},
    "variants": {"baseline": {
        "ruleset": "acme-b2b", "version": "3", "constants": {"mql_interest": 50},
        "thresholds": {"mql": {"crossed": 1200, "precision": 0.21, "recall": 0.64, "lift": 2.0,
                               "lead_time_median_days": 12.5, "lead_time_p90_days": 60.0, "weekly_mean": 23.1,
                               "weekly_p90": 35, "weekly_max": 41, "weeks_over_capacity": 2}}}},
}
HOSTILE = '<script>alert("x")</script>'


class _Page(HTMLParser):
    """What a browser would see: elements, ids, and every attribute that can fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.fetching: list[tuple[str, str]] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id":
                self.ids.append(value)
                if tag == "section":
                    self.sections.append(value)
            if name in ("src", "href", "xlink:href", "action", "poster", "data", "srcset") \
                    and not (value or "").startswith("#"):
                self.fetching.append((name, value))


def page(html: str) -> _Page:
    parser = _Page()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def sample_html() -> str:
    return html_report(SAMPLE)


def test_every_section_of_a_full_result(sample_html):
    found = page(sample_html)
    assert found.sections == ["variants", "thresholds", "sweep", "weekly", "scores", "flips", "notes"]
    # sweep: 1 threshold; weekly: mql week by week, sql from its summary; scores: fit and interest
    assert found.tags.count("svg") == 5
    assert found.tags[0] == "html" and "script" not in found.tags


def test_the_same_result_gives_the_same_page(sample_html):
    assert html_report(copy.deepcopy(SAMPLE)) == sample_html


def test_nothing_is_fetched(sample_html):
    found = page(sample_html)
    assert found.fetching == []
    assert not re.search(r"(?i)https?:|//[a-z0-9]|@import|url\((?!#)", sample_html)
    assert "Content-Security-Policy" in sample_html and "default-src 'none'" in sample_html


def test_ids_are_unique_across_charts(sample_html):
    ids = page(sample_html).ids
    assert len(ids) == len(set(ids)) and len(ids) > 50
    referenced = set(re.findall(r'(?:xlink:href="#|url\(#)([^")]+)', sample_html))
    assert referenced <= set(ids)


def test_minimal_result_leaves_out_what_it_lacks():
    html = html_report(MINIMAL)
    found = page(html)
    assert found.sections == ["variants", "thresholds", "weekly"]   # weekly from mean/p90/max
    assert found.tags.count("svg") == 1
    assert "no capacity given" in html and "21.0%" in html and "12.5 d" in html


@pytest.mark.parametrize("result", [{}, {"variants": {}}, {"variants": []}, {"sweep": {"points": "x"}},
                                    {"variants": {"baseline": {"thresholds": {"mql": "x"}}}}, [], None,
                                    {"variants": {"baseline": {"thresholds": {"mql": {1: 2, "f": {3: (4,)}}}}}}])
def test_empty_or_odd_results_give_a_page(result):
    html = html_report(result)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert page(html).tags.count("svg") == 0


def test_malformed_parts_are_skipped():
    result = copy.deepcopy(SAMPLE)
    baseline = result["variants"]["baseline"]
    baseline["score_distributions"]["fit"]["successful"].pop()          # one count short
    baseline["score_distributions"]["interest"]["edges"][3] = "ten"    # not a number
    result["variants"]["candidate"]["score_distributions"] = {"fit": {"edges": [0, 0], "successful": [1],
                                                                      "other": [1]}}
    result["sweep"]["points"] = [{"value": "low"}, {"thresholds": {}}]
    found = page(html_report(result))
    assert "sweep" not in found.sections
    assert "scores" not in found.sections


def test_every_name_is_escaped():
    result = copy.deepcopy(SAMPLE)
    variants = result["variants"]
    variants["baseline"]["ruleset"] = HOSTILE
    variants["baseline"]["constants"] = {HOSTILE: HOSTILE, "mql_interest": 50}
    variants["baseline"]["thresholds"][HOSTILE] = variants["baseline"]["thresholds"].pop("sql")
    variants["baseline"]["thresholds"]["mql"]["funnel"][HOSTILE] = 1
    variants["baseline"]["score_distributions"]["$\\frac{1}{0}$ _x"] = variants["baseline"][
        "score_distributions"].pop("fit")
    variants[HOSTILE] = variants.pop("candidate")
    result["sweep"]["constant"] = "$x^$"
    result["flips"][HOSTILE] = {"examples": [{"lead_id": HOSTILE, "rules": [HOSTILE]}], HOSTILE: 2}
    result["notes"].append(HOSTILE)
    result["skipped_rows"][HOSTILE] = 1
    html = html_report(result)
    found = page(html)
    assert found.tags.count("script") == 0
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    # `$` in a name does not break a chart; renamed in one variant only, `fit` and `sql` now chart apart:
    # sweep 1, weekly 3 (mql, the hostile one, sql), scores 3 (interest, fit, the `$` one)
    assert found.tags.count("svg") == 7


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10_000) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)
metric_keys = st.sampled_from(["crossed", "precision", "recall", "lift", "weekly_mean", "weekly",
                               "weeks_over_capacity", "funnel", "lead_time_median_days"])
results = st.fixed_dictionaries({}, optional={
    "window": json_values, "leads": json_values, "successes": json_values, "capacity": json_values,
    "skipped_rows": json_values, "notes": json_values, "flips": json_values, "sweep": json_values,
    "variants": st.dictionaries(st.sampled_from(["baseline", "candidate", "x"]), st.fixed_dictionaries(
        {}, optional={"ruleset": json_values, "constants": json_values, "score_distributions": json_values,
                      "thresholds": st.dictionaries(st.text(max_size=5), st.dictionaries(
                          metric_keys, json_values, max_size=5), max_size=2)}), max_size=2)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results)
def test_any_json_gives_a_page_without_markup_from_the_data(result):
    html = html_report(result)
    found = page(html)
    assert "script" not in found.tags and found.fetching == []


def test_chart_labels_show_control_characters_as_escapes_and_keep_dollars_plain():
    from leadscore.simulator.report_charts import _text

    assert _text("mql\x17 $5") == "mql\\x17 \\$5"
