"""`Backend.score_table`: leads and events as Arrow tables in, one Arrow table of results out
(docs/scoring.md, "Arrow tables").

The tables' values are read exactly as the API reads Python values (runtime.normalise_value,
the one normaliser every door shares), and every backend scores them through its own
`score_many`, so a table gives the same results as the same values given one lead at a time.

    leads:  `lead_id`, then a column per lead field (any column type; absent: missing)
    events: `lead_id`, `type`, `at`, then a column per event property (null: not set)
    result: `lead_id`, every score (float64, null when missing), threshold (bool) and segment
            (string) in declaration order, and `reasons` (the JSON text `leadscore score
            --explain` writes) with explain=True; one row per lead, in the order of `leads`
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from .compiler import runtime as rt

ID = "lead_id"
EVENT_COLUMNS = (ID, "type", "at")


def score_table(backend, leads: Any, events: Any, as_of: Any, *, explain: bool = False,
                strict: bool = False) -> pa.Table:
    """Every lead of `leads` scored by `backend` at `as_of`, as one table (see the module)."""
    ids, rows = _leads(leads)
    by_lead = _events(events, ids)
    results = backend.score_many(dict(zip(ids, rows)), by_lead, as_of, explain=explain, strict=strict)
    return result_table(backend, leads.column(ID), [results[key] for key in ids], explain)


def result_table(backend, ids: pa.ChunkedArray, results: list[rt.Result], explain: bool) -> pa.Table:
    """The results of the leads `ids`, in that order, as the result table."""
    names = [ID]
    columns: list[Any] = [ids]
    for name in backend.scores:
        names.append(name)
        columns.append(pa.array([r.scores[name] for r in results], pa.float64()))
    for name in backend.thresholds:
        names.append(name)
        columns.append(pa.array([r.thresholds[name] for r in results], pa.bool_()))
    for name in backend.segments:
        names.append(name)
        columns.append(pa.array([r.segments[name] for r in results], pa.string()))
    if explain:
        names.append("reasons")
        columns.append(pa.array([json.dumps([reason.as_dict() for reason in r.reasons], ensure_ascii=False)
                                 for r in results], pa.string()))
    # from_arrays: a score may share its name with `lead_id` or `reasons`; columns keep their places
    return pa.Table.from_arrays(columns, names=names)


def _table(value: Any, what: str, required: tuple[str, ...]) -> pa.Table:
    if not isinstance(value, pa.Table):
        raise rt.InputError(f"{what} must be a pyarrow Table, not {_kind_of(value)}")
    missing = [name for name in required if name not in value.column_names]
    if missing:
        raise rt.InputError(f"{what} table has no {', '.join(repr(m) for m in missing)} column "
                            f"(its columns: {', '.join(map(repr, value.column_names)) or 'none'})")
    repeated = sorted({n for n in value.column_names if value.column_names.count(n) > 1})
    if repeated:
        raise rt.InputError(f"{what} table has more than one column named {repeated[0]!r}")
    return value


def _leads(leads: Any) -> tuple[list, list[dict]]:
    table = _table(leads, "the leads", (ID,))
    ids = table.column(ID).to_pylist()
    seen: set = set()
    for key in ids:
        if key is None:
            raise rt.InputError("a lead without a lead_id: every row of the leads table needs one")
        try:
            if key in seen:
                raise rt.InputError(f"lead_id {key!r} appears more than once in the leads table")
        except TypeError:   # unhashable: a list column
            raise rt.InputError(f"a lead_id must be a text or a number, not {_kind_of(key)}") from None
        seen.add(key)
    rows = table.drop_columns([ID]).to_pylist()
    return ids, rows


def _events(events: Any, ids: list) -> dict[Any, list[dict]]:
    """Each lead's events as the API takes them; events of leads not in the table are left out."""
    table = _table(events, "the events", EVENT_COLUMNS)
    by_lead: dict[Any, list[dict]] = {key: [] for key in ids}
    properties = [name for name in table.column_names if name not in EVENT_COLUMNS]
    columns = [table.column(name).to_pylist() for name in (*EVENT_COLUMNS, *properties)]
    for key, kind, at, *values in zip(*columns):
        try:
            found = by_lead.get(key)
        except TypeError:   # unhashable: a list column
            raise rt.InputError(f"a lead_id must be a text or a number, not {_kind_of(key)}") from None
        if found is not None:
            found.append({"type": kind, "at": at,
                          "properties": {name: v for name, v in zip(properties, values) if v is not None}})
    return by_lead


def _kind_of(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"
