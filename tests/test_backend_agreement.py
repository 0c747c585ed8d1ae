"""Two backends, one semantics: hypothesis writes rulesets, leads and events;
the compiled scorer must agree exactly with the reference interpreter."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring_helpers import AS_OF, build, event

ATOMS = st.sampled_from([
    "employees >= 50", "employees < 10", "employees == 100", "employees != 100",
    'industry == "Software"', 'industry in ["Retail", "Other"]', 'industry not in ["Retail"]',
    "title matches /\\b(vp|chief)\\b/i", 'title starts_with "Head"', 'email ends_with ".io"',
    'tech contains "crm"', "email is missing", "tech is present", "has_budget == true",
    'domain(email) == "gmail.com"', "len(tech) >= 2", "employees / 10 > 3",
    "count(page_view within 7d) >= 2", 'count(page_view where url starts_with "/p") > 0',
    "days_since(demo_request) < 10", "days_since(created_at) > 30", "created_at < 2026-05-01",
    "max(employees, 20) > 30", "-employees < -40",
])


@st.composite
def conditions(draw, depth: int = 2):
    if depth == 0 or draw(st.booleans()):
        return draw(ATOMS)
    op = draw(st.sampled_from(["and", "or", "not"]))
    if op == "not":
        return f"not ({draw(conditions(depth - 1))})"
    return f"({draw(conditions(depth - 1))}) {op} ({draw(conditions(depth - 1))})"


POINTS = st.sampled_from(["+1", "+5", "+12.5", "-3", "-20", "+bonus", "-bonus"])
DECAYS = st.sampled_from(["", ", decay none", ", decay half_life 7d", ", decay linear 20d",
                          ", decay steps { 3d: 80%, 10d: 40%, 30d: 0% }"])


@st.composite
def event_rules(draw, name: str):
    kind = draw(st.sampled_from(["page_view", "email_open", "demo_request", "unsubscribe"]))
    text = f"{name}: {draw(POINTS)} per {kind}"
    if kind == "page_view" and draw(st.booleans()):
        text += ' where url starts_with "/p"'
    if draw(st.booleans()):
        text += f" within {draw(st.sampled_from(['1d', '12h', '7d', '30d']))}"
    text += draw(DECAYS)
    if draw(st.booleans()):
        text += f", max {draw(st.sampled_from(['2', '7.5', '40']))}"
    choice = draw(st.sampled_from(["", ", once", ", at most 1 per day", ", at most 2 per week"]))
    return text + choice


@st.composite
def rulesets(draw):
    lines = ["const bonus = 4", "score a {"]
    lines.append(draw(st.sampled_from(["", "  decay half_life 10d", "  decay linear 30d"])))
    lines.append(draw(st.sampled_from(["", "  clamp 0..30", "  clamp ..10", "  clamp -5.."])))
    lines.append(draw(st.sampled_from(["", "  inactivity after 5d: -2 every 3d"])))
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["condition", "case", "event", "group"]))
        if kind == "condition":
            lines.append(f"  c{i}: {draw(POINTS)} if {draw(conditions())}")
        elif kind == "case":
            lines.append(f"  k{i}: case {{")
            for _ in range(draw(st.integers(1, 3))):
                lines.append(f"    {draw(POINTS)} if {draw(conditions(1))}")
            if draw(st.booleans()):
                lines.append(f"    {draw(POINTS)} otherwise")
            lines.append("  }")
        elif kind == "event":
            lines.append("  " + draw(event_rules(f"e{i}")))
        else:
            lines.append(f"  group g{i} max {draw(st.sampled_from(['3', '10']))} {{")
            lines.append("    " + draw(event_rules(f"ga{i}")))
            lines.append(f"    gb{i}: {draw(POINTS)} if {draw(conditions(1))}")
            lines.append("  }")
    lines.append("}")
    lines += ["score b = a * 2 - 1", "score r = 10 / a",
              f"threshold hot: a >= {draw(st.sampled_from(['0', '3', '12']))}",
              "threshold warm: hot or r > 1",
              "segment tier {", "  top if hot and b > 5", "  mid if a > 0", "  low otherwise", "}",
              'threshold topped: tier == "top" or warm']
    return "\n".join(lines)


LEADS = st.fixed_dictionaries({
    "industry": st.sampled_from(["Software", "Retail", "Other", None, ""]),
    "employees": st.sampled_from([None, 0, 5, 50, 100, 2000, "30"]),
    "title": st.sampled_from([None, "VP Sales", "Head of IT", "intern", "Chief of staff"]),
    "email": st.sampled_from([None, "a@gmail.com", "b@corp.io", "broken"]),
    "tech": st.sampled_from([None, [], ["crm"], "crm; erp", ["erp", "x", "y"]]),
    "has_budget": st.sampled_from([None, True, False, "no"]),
    "created_at": st.sampled_from([None, "2026-01-01", "2026-05-30T10:00:00Z", "2027-01-01"]),
})


@st.composite
def histories(draw):
    out = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["page_view", "email_open", "demo_request", "unsubscribe"]))
        # Whole hours, so equal timestamps and window edges happen often.
        hours = draw(st.integers(-48, 24 * 60))
        url = draw(st.sampled_from(["/pricing", "/blog", None]))
        out.append(event(kind, (AS_OF - timedelta(hours=hours)).isoformat(), url=url))
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=rulesets(), data=st.data())
def test_compiled_scorer_agrees_with_interpreter(tmp_path, body, data):
    ruleset = build(tmp_path, body)
    scorer, interpreter = ruleset.compile(), ruleset.interpret()
    for _ in range(4):
        lead, events = data.draw(LEADS), data.draw(histories())
        assert scorer.score(lead, events, AS_OF, explain=True) == \
            interpreter.score(lead, events, AS_OF, explain=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(decay=st.sampled_from(["half_life 5d", "linear 30d", "steps { 2d: 90%, 9d: 30%, 20d: 0% }"]),
       ages=st.lists(st.integers(0, 24 * 40), min_size=2, max_size=6))
def test_decay_never_increases_with_age(tmp_path, decay, ages):
    ruleset = build(tmp_path, f"score a {{\n  v: +10 per page_view, decay {decay}\n}}")
    scorer = ruleset.compile()
    one = [event("page_view", AS_OF.isoformat())]
    values = [scorer.score({}, one, AS_OF + timedelta(hours=h)).scores["a"] for h in sorted(ages)]
    assert all(later <= earlier for earlier, later in zip(values, values[1:]))
