"""The rows `leadscore score` writes (docs/scoring.md).

`lead_id` first, then every score, threshold and segment in declaration order; floats in
their shortest exact form (`repr`), a missing score empty (CSV) or null (JSONL).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from itertools import chain, repeat

FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
_QUOTED = re.compile(r'[,"\r\n]')
_CSV_BOOL = _JSON_BOOL = {True: "true", False: "false"}


def columns(scores: tuple, thresholds: tuple, segments: tuple, explain: bool) -> list[str]:
    return ["lead_id", *scores, *thresholds, *segments, *(["reasons"] if explain else [])]


def header(fmt: str, names: list[str]) -> str | None:
    return ",".join(map(csv_text, names)) + "\n" if fmt == "csv" else None


def row_formatter(fmt: str, names: list[str], explain: bool) -> Callable:
    """(lead id, scores, thresholds, segments, reasons) -> one line, newline included."""
    return _csv_row(explain) if fmt == "csv" else _jsonl_row(names, explain)


def rows_formatter(fmt: str, names: list[str], explain: bool) -> Callable:
    """(lead ids, their ScoredLeads) -> their lines, newlines included."""
    if fmt == "csv" and not explain:
        return _csv_rows()
    row = row_formatter(fmt, names, explain)
    return lambda ids, scored: list(map(row, ids, scored.scores, scored.thresholds, scored.segments,
                                        scored.reasons if scored.reasons is not None else repeat(None)))


def csv_text(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _QUOTED.search(text) else text


def csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)


def json_number(value: float | None) -> str:
    # repr is valid JSON for every finite float; JSON has no infinity
    return repr(value) if value is not None and math.isfinite(value) else "null"


class _Labels(dict):
    """Segment label -> its text in the output, computed once per label."""

    def __init__(self, missing: str, text: Callable[[str], str]):
        super().__init__({None: missing})
        self.text = text

    def __missing__(self, label: str) -> str:
        self[label] = self.text(label)
        return self[label]


# The row functions run once per lead: C-level maps, and `repr` straight on the scores unless
# one is missing (a derived score can be).
def _csv_row(explain: bool) -> Callable:
    labels = _Labels("", csv_text)

    def row(lead, scores, thresholds, segments, reasons) -> str:
        cells = [csv_text(lead), *map(repr if None not in scores else csv_number, scores),
                 *map(_CSV_BOOL.__getitem__, thresholds), *map(labels.__getitem__, segments)]
        if explain:
            cells.append(csv_text(reasons_json(reasons)))
        return ",".join(cells) + "\n"
    return row


def _csv_rows() -> Callable:
    """The rows of many leads at once, as _csv_row writes them, a column at a time: one C-level
    map per column rather than a Python call per row."""
    labels = _Labels("", csv_text)

    def rows(ids, scored) -> list[str]:
        if not len(scored):
            return []
        cells = [list(map(csv_text, ids))]
        cells += [list(map(repr if None not in column else csv_number, column)) for column in zip(*scored.scores)]
        cells += [list(map(_CSV_BOOL.__getitem__, column)) for column in zip(*scored.thresholds)]
        cells += [list(map(labels.__getitem__, column)) for column in zip(*scored.segments)]
        return list(map(str.__add__, map(",".join, zip(*cells)), repeat("\n")))
    return rows


def _jsonl_row(names: list[str], explain: bool) -> Callable:
    keys = ["{" + json.dumps(names[0]) + ": "] + [", " + json.dumps(name, ensure_ascii=False) + ": "
                                                  for name in names[1:]]
    labels = _Labels("null", lambda label: json.dumps(label, ensure_ascii=False))

    def row(lead, scores, thresholds, segments, reasons) -> str:
        values = [json.dumps(lead, ensure_ascii=False), *map(json_number, scores),
                  *map(_JSON_BOOL.__getitem__, thresholds), *map(labels.__getitem__, segments)]
        if explain:
            values.append(reasons_json(reasons))
        return "".join(chain.from_iterable(zip(keys, values))) + "}\n"
    return row


def reasons_json(reasons) -> str:
    """The contributing rules of one lead (the scorer's reason tuples) as a JSON array."""
    return json.dumps([{"score": score, "rule": rule, "points": points, "kind": kind,
                        **({"events": events} if events is not None else {})}
                       for score, rule, points, kind, events in reasons or ()], ensure_ascii=False)
