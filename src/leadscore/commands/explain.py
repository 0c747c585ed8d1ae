"""`leadscore explain`: why one lead has its scores, in words a sales rep reads."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from ..safe_text import json_text, shown
from .common import history_options, load_or_exit, parse_instant, tables_or_exit
from .score import report_problems

if TYPE_CHECKING:
    from ..explain import Condition, Contribution, Explanation, ScoreExplanation


def _timeline_rows(ctx, param, value: str | None) -> int | str | None:
    """--timeline-rows: a whole number of rows, at least 1, or "all"; None when not given."""
    if value is None or value.strip().lower() == "all":
        return value and "all"
    if not value.strip().isdigit() or int(value) < 1:
        raise click.BadParameter(f"{shown(value)!r}: give a whole number of rows (1 or more) or `all`")
    return int(value)


@click.command("explain")
@click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
@click.option("--lead", "lead_id", required=True, help="The id of the lead to explain.")
@history_options
@click.option("--leads", "leads_file", type=click.Path(exists=True, dir_okay=False),
              help="The leads table (.csv, .jsonl or .parquet; instead of the history's).")
@click.option("--events", "events_file", type=click.Path(exists=True, dir_okay=False),
              help="The events table (.csv, .jsonl or .parquet; instead of the history's).")
@click.option("--as-of", "instant", required=True, callback=parse_instant, metavar="INSTANT",
              help="Explain the scores at this instant: `now`, or ISO 8601 (no offset means UTC).")
@click.option("--timeline", is_flag=True, help="Also show the scores after each of the lead's last 200 events.")
@click.option("--timeline-rows", callback=_timeline_rows, metavar="N|all",
              help="The timeline's rows: one for each of the lead's last N events, or `all` of them "
                   "(each row evaluates every earlier event); implies --timeline.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def command(ruleset: str, lead_id: str, history: str | None, allow_history_outside: bool, leads_file: str | None,
            events_file: str | None, instant: float, timeline: bool, timeline_rows: int | str | None,
            output_format: str, allow_schema_outside: bool) -> None:
    """Explain one lead's scores at --as-of: the rules that gave points (per-event
    rules with each event and its decayed points), the rules that did not fire
    and why, how far the lead is from each threshold, and its segments.

    Exit status: 0 explained, 1 unknown lead or unusable file, 2 usage error.
    """
    from ..compiler import runtime as rt
    from ..explain import TIMELINE_ROWS, ExplainError, explain
    from ..loader import read_text
    from ..tables import ProblemLog, TableError, read_events, read_leads

    tables = tables_or_exit(history, allow_history_outside, {"leads": leads_file, "events": events_file})
    leads_file, events_file = tables["leads"], tables["events"]
    lead_id = lead_id.strip()   # ids are trimmed when read
    loaded = load_or_exit(ruleset, allow_schema_outside)
    scorer, schema = loaded.compile(), loaded.checked.schema
    log = ProblemLog()
    try:
        found = list(read_leads(leads_file, schema, log, lead=lead_id))
        if not found:
            report_problems(log)
            click.echo(shown(f"error: lead `{lead_id}` is not in {leads_file}"), err=True)
            sys.exit(1)
        rows = list(read_events(events_file, schema, log, lead=lead_id))
    except TableError as error:
        click.echo(shown(f"error: {error}"), err=True)
        sys.exit(1)
    types = scorer.property_types
    events = [(e.type, e.at, {p: rt.normalise_value(e.properties.get(p), kind) for p, kind in types[e.type].items()})
              for _, e in rows]
    source, _ = read_text(ruleset, ruleset)   # read and checked a moment ago by load_or_exit
    try:
        explanation = explain(loaded, scorer, source, lead_id, rt.prepare_fields(found[0][1], scorer.field_types),
                              events, instant, timeline=timeline or timeline_rows is not None,
                              timeline_rows=TIMELINE_ROWS if timeline_rows is None else
                              None if timeline_rows == "all" else timeline_rows)
    except ExplainError as error:
        click.echo(shown(f"error: {error}"), err=True)
        sys.exit(1)
    report_problems(log)
    click.echo(render_json(explanation, schema) if output_format == "json" else render_text(explanation))


# --- text --------------------------------------------------------------------------------------

def render_text(x: Explanation) -> str:
    from ..explain import instant_text

    lines = [f"lead {x.lead}: {x.ruleset} version {x.version}, at {instant_text(x.as_of)}", ""]
    for score in x.scores:
        lines.extend(_score_lines(score))
    if x.thresholds:
        lines.extend(["", "thresholds"])
        for threshold in x.thresholds:
            lines.append(f"  {threshold.name}: {'met' if threshold.met else 'not met'} ({threshold.condition})")
            if threshold.joined_by or threshold.parts[0].subject:
                lines.extend(f"    {_condition_text(part)}" for part in threshold.parts)
    if x.segments:
        lines.extend(["", "segments"])
        lines.extend(f"  {name}: {label or '(none)'}" for name, label in x.segments.items())
    if x.timeline:
        lines.extend(["", "timeline (scores after each event)"])
        if x.timeline_omitted:
            lines.append(f"  (the last {len(x.timeline):,} of the lead's {len(x.timeline) + x.timeline_omitted:,} "
                         f"events; the {x.timeline_omitted:,} before them count in every row; "
                         f"--timeline-rows N|all shows more)")
        lines.extend(_timeline_lines(x))
    # Names, values and the lead id come from the rule file and the tables.
    return "\n".join(shown(line) for line in lines)


def _score_lines(score: ScoreExplanation) -> list[str]:
    from ..explain import number

    if score.formula is not None:
        return [f"{score.name} {number(score.value)} = {score.formula}"]
    lines = [f"{score.name} {number(score.value)}"]
    width = max((len(_signed(c.points)) for c in score.contributions), default=0)
    for c in score.contributions:
        lines.append(f"  {_signed(c.points):>{width}}  {c.source}")
        lines.extend(_event_lines(c, width))
    if score.unfired:
        lines.append("  did not fire:")
        lines.extend(f"    {u.source}  ({u.why})" for u in score.unfired)
    return lines


def _event_lines(c: Contribution, width: int) -> list[str]:
    from ..explain import instant_text, number

    pad = " " * (width + 4)
    inner = max((len(_signed(e.points)) for e in c.events), default=0)
    lines = [f"{pad}{_signed(e.points):>{inner}}  {instant_text(e.at)}  {e.type}{_properties(e.properties)}"
             for e in c.events]
    if c.uncapped is not None:
        lines.append(f"{pad}(the events add up to {number(c.uncapped)}; the rule's max keeps {number(c.points)})")
    return lines


def _condition_text(part: Condition) -> str:
    from ..explain import number

    if part.subject is None:
        return f"{part.text}: {'yes' if part.met else 'no'}"
    need = {">=": "needs", ">": "needs more than", "<=": "needs at most", "<": "needs less than"}[part.op]
    if part.value is None:
        return f"{part.subject} is missing — {need} {number(part.target)}"
    head = f"{part.subject} {number(part.value)} — {need} {number(part.target)}"
    if part.met:
        return head + ", met"
    return f"{head}, {number(part.gap)} {'to go' if part.op in ('>=', '>') else 'too many'}"


def _timeline_lines(x: Explanation) -> list[str]:
    from ..explain import instant_text, number

    scores = [s.name for s in x.scores]
    header = [shown(name) for name in ("at", "event", *scores, "thresholds met")]
    rows = [[instant_text(e.at), shown(e.type + _properties(e.properties)), *(number(e.scores[s]) for s in scores),
             shown(", ".join(name for name, met in e.thresholds.items() if met) or "-")] for e in x.timeline]
    rows.append([instant_text(x.as_of), "(as of)", *(number(s.value) for s in x.scores),
                 shown(", ".join(t.name for t in x.thresholds if t.met) or "-")])
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(len(header))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]


def _signed(points: float) -> str:
    from ..explain import number

    text = number(points)
    return text if text.startswith("-") else "+" + text


def _properties(properties) -> str:
    from ..explain import show

    shown = [f"{name} {show(value)}" for name, value in properties.items() if value is not None]
    return f" ({', '.join(shown)})" if shown else ""


# --- JSON ---------------------------------------------------------------------------------------

def render_json(x: Explanation, schema) -> str:
    """The explanation's fields as JSON; instants (and datetime fields) in ISO 8601."""
    from ..explain import instant_text

    data = asdict(x)
    data["as_of"] = instant_text(x.as_of)
    data["fields"] = {name: instant_text(value) if value is not None and schema.fields[name].type == "datetime"
                      else value for name, value in x.fields.items()}
    for score in data["scores"]:
        for c in score["contributions"]:
            for e in c["events"]:
                e["at"] = instant_text(e["at"])
    for entry in data["timeline"]:
        entry["at"] = instant_text(entry["at"])
    return json_text(json.dumps(data, indent=2, ensure_ascii=False))
