"""The history tables for calibration in SQL (calibrate_sql.py), read by the project's readers
in the order and with the problem log of the Python engine (count_signals): outcomes (then the
success stage is checked), leads, events; the outcomes, a row per deal, are held until the
leads are known, so that each can name its lead by number. So every unusable row is counted and shown as it is
there, and --strict stops at the same row. Each table is handed to the runner batch by batch,
so the engine (not this process) holds the history, within its memory limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from ..dsl import types as t
from ..tables import ProblemLog, event_batches, lead_batches, read_outcomes
from ..tables.convert import epoch_seconds
from .calibrate import Options, Plan
from .calibrate_sql import Inputs, Runner, field_column
from .stages import require_stage

_OUTCOME_ROWS = 65_536
_ARROW = {t.STRING: pa.string(), t.NUMBER: pa.float64(), t.BOOLEAN: pa.bool_(), t.DATETIME: pa.float64(),
          t.LIST: pa.list_(pa.string())}   # datetimes as epoch seconds, as the runtime holds them


def load_history(plan: Plan, inputs: Inputs, tables: Mapping, log: ProblemLog, options: Options,
                 run: Runner) -> None:
    """Load `outcomes`, `leads` and `events` (tables: path or Arrow table per name) into `run`."""
    schema = plan.checked.schema
    seen: Counter = Counter()
    outcomes = list(read_outcomes(tables["outcomes"], log, id_column=schema.id_column))
    seen.update(stage for _, stage, _, _ in outcomes)
    require_stage(seen, options.success_stage.strip().lower())
    if options.decided_only:
        require_stage(seen, options.lost_stage.strip().lower(), "--lost")
    ids: list[pa.Array] = []
    run.load("leads", _leads_schema(plan, inputs), _lead_parts(plan, inputs, tables["leads"], log, ids))
    known = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
    run.load("outcomes", _OUTCOMES, _outcome_parts(outcomes, known))
    run.load("events", _events_schema(inputs), _event_parts(plan, inputs, tables["events"], log, known))


_OUTCOMES = pa.schema([("lead_id", pa.string()), ("lead", pa.int64()), ("stage", pa.string()), ("at", pa.float64())])


def _lead_numbers(ids: pa.Array, known: pa.Array) -> pa.Array:
    """Each id's place in the leads table (null for an id not in it)."""
    return pc.index_in(ids, value_set=known).cast(pa.int64())


def _outcome_parts(rows: list[tuple], known: pa.Array) -> Iterator[pa.Table]:
    for start in range(0, len(rows), _OUTCOME_ROWS):
        leads, stages, ats, _ = zip(*rows[start:start + _OUTCOME_ROWS])
        ids = pa.array(leads, pa.string())
        yield pa.table([ids, _lead_numbers(ids, known), pa.array(stages, pa.string()), pa.array(ats, pa.float64())],
                       schema=_OUTCOMES)


def _leads_schema(plan: Plan, inputs: Inputs) -> pa.Schema:
    fields = plan.checked.schema.fields
    slots = {name: i for i, name in enumerate(fields)}
    return pa.schema([("lead", pa.int64()), ("born", pa.float64()),
                      *((field_column(slots[name]), _ARROW[fields[name].type]) for name in inputs.fields)])


def _typed(values: pa.Array, kind: str) -> pa.Array:
    return epoch_seconds(values) if kind == t.DATETIME else values.cast(_ARROW[kind])


def _lead_parts(plan: Plan, inputs: Inputs, path, log: ProblemLog, ids: list) -> Iterator[pa.Table]:
    """The leads in file order, a repeated id's first row only (as read_leads); `ids` gains
    each batch's lead ids."""
    schema = plan.checked.schema
    target = _leads_schema(plan, inputs)
    count = 0
    for part in lead_batches(path, schema, log, seen=set()):
        n = len(part.ids)
        born = (_typed(part.fields[schema.created], t.DATETIME) if schema.created
                else pa.nulls(n, pa.float64()))
        columns = [pa.array(range(count, count + n), pa.int64()), born,
                   *(_typed(part.fields[name], schema.fields[name].type) for name in inputs.fields)]
        ids.append(part.ids)
        count += n
        yield pa.Table.from_arrays(columns, schema=target)


def _events_schema(inputs: Inputs) -> pa.Schema:
    return pa.schema([("lead", pa.int64()), ("type", pa.int32()), ("at", pa.float64()),
                      *((name, _ARROW[kind]) for (_, kind), name in inputs.properties.items())])


def _event_parts(plan: Plan, inputs: Inputs, path, log: ProblemLog, known: pa.Array) -> Iterator[pa.Table]:
    """The events of known leads (the others are counted as unknown leads, as read_events does)."""
    schema = plan.checked.schema
    target = _events_schema(inputs)
    for part in event_batches(path, schema, log, known_leads=known):
        n = len(part.ids)
        properties = [_typed(part.properties[key], key[1]) if key in part.properties else pa.nulls(n, _ARROW[key[1]])
                      for key in inputs.properties]
        yield pa.Table.from_arrays([part.leads, part.types, part.at, *properties], schema=target)
