"""The table readers: a table's batches typed by the schema, its problems logged in file order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat

import pyarrow as pa
import pyarrow.compute as pc

from .convert import (ARROW_TYPES, blank_is_null, convert_column, epoch_seconds, present_mask, python_values, show_value,
                      take_rows, without_placeholders)
from .problems import ProblemLog, RowProblem, TableError, repeated_lead
from .rawbatch import Batch
from .sources import open_table, prefetch, table_format


class TableReader:
    """One table being read: its batches, its lead id column, and its problems, logged in file order."""

    def __init__(self, path, table: str, log: ProblemLog, id_column: str, required=(), known=(), text=(),
                 lead: str | None = None, names: list[str] | None = None):
        """With `names` (the table's column names, its rows read elsewhere: engines/duckdb_events.py),
        the file is not opened: the reader only types and explains the batches handed to it."""
        self.file, self.table, self.log, self.lead = str(path), table, log, lead
        self.id_names = (id_column, "lead_id")
        self.known = {*known, *self.id_names}
        self.names, batches = (names, iter(())) if names is not None else open_table(path, self.known, set(text))
        self.csv = table_format(path) == "csv"
        self.reported: set[str] = set()
        if self.names is not None:
            for column in [next((c for c in self.id_names if c in self.names), self.id_names[0]), *required]:
                if column not in self.names:
                    raise TableError(RowProblem(table, self.file, 1, column,
                                                f"no `{column}` column" + self._separator_hint(),
                                                "missing_column"))
            self.unknown_columns(None, self.names)
        self.batches = prefetch(self.file, batches)

    def _separator_hint(self) -> str:
        """Spreadsheets in many locales export CSV with `;` (or tabs): the header is then one
        column holding every name."""
        if self.csv and len(self.names) == 1:
            for separator, said in ((";", "`;`"), ("\t", "tabs")):
                if separator in self.names[0]:
                    return (f"; the header reads as one column, `{show_value(self.names[0])}`: the file seems "
                            f"to be separated by {said}; save it as comma-separated CSV")
        return ""

    def unknown_columns(self, batch: Batch | None, columns) -> None:
        """Count each unknown column once, at the header (CSV, Parquet) or the first line using it (JSONL)."""
        for name in columns:
            if name not in self.known and name not in self.reported:
                self.reported.add(name)
                row = 1 if batch is None else batch.row_of(max(0, pc.index(present_mask(columns[name]), True).as_py()))
                self.log.add(RowProblem(self.table, self.file, row, name,
                                        f"unknown column `{show_value(name)}` ignored", "unknown_column"))

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.batches:
            if self.lead is not None:
                batch = self.narrowed(batch)
            if self.names is None and batch.n:
                self.unknown_columns(batch, batch.cols)
            yield batch

    def flush(self, batch: Batch, problems: list, dropped: set) -> None:
        """Log a batch's problems [(index in batch, column, reason, kind)] in file order, before
        its rows are handed out; bad cells of rows left out anyway are not reported twice."""
        rows = [(batch.row_of(i), column, reason, kind) for i, column, reason, kind in problems
                if kind != "bad_value" or i not in dropped]
        for row, column, reason, kind in sorted(batch.pre + rows, key=lambda p: p[0]):
            self.log.add(RowProblem(self.table, self.file, row, column, reason, kind))

    def ids(self, batch: Batch) -> pa.Array:
        name = next((c for c in self.id_names if c in batch.cols), None)
        if name is None:
            return pa.nulls(batch.n, pa.string())
        ids = pc.utf8_trim_whitespace(convert_column(batch.cols[name], "string")[0])
        return blank_is_null(ids)

    def col(self, batch: Batch, name: str, ftype: str, problems: list | None = None, missing: tuple = ()):
        """(typed arrow array, {index: reason}); bad values are added to `problems` when given;
        `missing`: the field's placeholder texts."""
        raw = without_placeholders(batch.cols.get(name), missing)
        arr, bad = convert_column(raw, ftype) if raw is not None else (pa.nulls(batch.n, ARROW_TYPES[ftype]), {})
        if problems is not None:
            problems.extend((i, name, reason, "bad_value") for i, reason in bad.items())
        return arr, bad

    def no_lead_id(self, batch: Batch, i: int, problems: list) -> None:
        """Row i has no lead id: say so, unless it has no value at all in a CSV (a blank line; JSONL
        blank lines make no row, so a JSONL or Parquet row with no value is counted)."""
        if any(c[i].is_valid if isinstance(c, pa.Array) else c[i] is not None for c in batch.cols.values()):
            raw = next((batch.cols[c] for c in self.id_names if c in batch.cols), None)
            why = convert_column(take_rows(raw, pa.array([i])), "string")[1].get(0) if raw is not None else None
            problems.append((i, self.id_names[0], f"lead id {why}" if why else "no lead id", "bad_row"))
        elif not self.csv:
            problems.append((i, self.id_names[0], "no lead id, and no other value", "bad_row"))

    def narrowed(self, batch: Batch) -> Batch:
        """The batch's rows of `self.lead` only (explaining one lead: other rows are not typed,
        and their problems are not this lead's; rows that could not be read at all still are)."""
        keep = pc.fill_null(pc.equal(self.ids(batch), self.lead), False)
        where = pc.indices_nonzero(keep).to_pylist()
        cols = {name: col.filter(keep) if isinstance(col, pa.Array) else [col[i] for i in where]
                for name, col in batch.cols.items()}
        return Batch(cols, len(where), lambda i: batch.row_of(where[i]), batch.pre)


@dataclass(frozen=True, slots=True)
class LeadColumns:
    """One batch of usable lead rows, column-wise, in file order."""

    batch: Batch       # its row_of maps `index` to row numbers in the file
    index: pa.Array     # int64: each row's index in the batch
    ids: pa.Array       # lead ids, trimmed, never null
    fields: dict        # field name -> array of the field's type (pyarrow), in schema order


def lead_batches(path, schema, log: ProblemLog, *, seen: set | None = None,
                 lead: str | None = None) -> Iterator[LeadColumns]:
    """The leads table column-wise. With `seen` (the ids met so far, updated), a repeated id is left
    out and reported here; without it, finding repeats is the caller's (the set would grow with
    the table). With `lead`, only that lead's rows are read."""
    fields = {name: spec.type for name, spec in schema.fields.items()}
    missing = {name: spec.missing for name, spec in schema.fields.items()}
    table = TableReader(path, "leads", log, schema.id_column, known=fields,
                   text=[name for name, ftype in fields.items() if ftype in ("string", "datetime")], lead=lead)
    for batch in table:
        problems: list = []
        ids = table.ids(batch)
        columns = {name: table.col(batch, name, ftype, problems, missing[name])[0] for name, ftype in fields.items()}
        keep = pc.is_valid(ids)
        dropped = set(pc.indices_nonzero(pc.invert(keep)).to_pylist())
        for i in sorted(dropped):
            table.no_lead_id(batch, i, problems)
        if seen is not None:
            repeated = []
            for i, lead_id in enumerate(ids.to_pylist()):
                if lead_id is None:
                    continue
                if lead_id in seen:
                    repeated.append(i)
                    problems.append((i, table.id_names[0], repeated_lead(lead_id),
                                     "duplicate_lead"))
                seen.add(lead_id)
            if repeated:
                dropped.update(repeated)
                first = [True] * batch.n
                for i in repeated:
                    first[i] = False
                keep = pc.and_(keep, pa.array(first))
        table.flush(batch, problems, dropped)
        if len(dropped) == batch.n:
            continue
        if dropped:
            ids, columns = ids.filter(keep), {name: col.filter(keep) for name, col in columns.items()}
        yield LeadColumns(batch, pc.indices_nonzero(keep), ids, columns)


def read_leads(path, schema, log: ProblemLog, *, lead: str | None = None) -> Iterator[tuple[str, dict]]:
    """(lead id, {field: value}) in file order, a repeated id's first row only. With `lead`,
    only that lead's rows are read."""
    fields = {name: spec.type for name, spec in schema.fields.items()}
    for part in lead_batches(path, schema, log, seen=set(), lead=lead):
        columns = [python_values(part.fields[name], ftype) for name, ftype in fields.items()]
        yield from ((lead, dict(zip(fields, values)))
                    for lead, values in zip(part.ids.to_pylist(), zip(*columns) if columns else repeat(())))


def read_outcomes(path, log: ProblemLog, *, id_column: str = "lead_id", with_rows: bool = False
                  ) -> Iterator[tuple]:
    """(lead, stage, at, amount), and the row number in the file `with_rows`."""
    table = TableReader(path, "outcomes", log, id_column, ("stage", "at"), {"stage", "at", "amount"}, {"stage", "at"})
    for batch in table:
        problems: list = []
        ids = table.ids(batch).to_pylist()
        stages, stage_bad = table.col(batch, "stage", "string")
        stages = stages.to_pylist()
        at, at_bad = table.col(batch, "at", "datetime")
        amounts = table.col(batch, "amount", "number", problems)[0].to_pylist()
        kept, dropped = [], set()
        for i, (lead, stage, when, amount) in enumerate(zip(ids, stages, epoch_seconds(at).to_pylist(), amounts)):
            stage = stage.strip().lower() if stage else ""
            if lead is None:
                table.no_lead_id(batch, i, problems)
            elif not stage:
                problems.append((i, "stage", f"stage {stage_bad[i]}" if i in stage_bad else "no stage", "bad_row"))
            elif when is None:
                problems.append((i, "at", at_bad.get(i, "no time"), "bad_timestamp"))
            else:
                kept.append((lead, stage, when, amount, batch.row_of(i)) if with_rows else (lead, stage, when, amount))
                continue
            dropped.add(i)
        table.flush(batch, problems, dropped)
        yield from kept


def read_changes(path, schema, log: ProblemLog, *, with_rows: bool = False) -> Iterator[tuple]:
    """(lead, field, value, at), and the row number in the file `with_rows`."""
    table = TableReader(path, "changes", log, schema.id_column, ("field", "value", "at"), {"field", "value", "at"},
                   {"field", "at"})
    for batch in table:
        problems: list = []
        ids = table.ids(batch).to_pylist()
        fields, field_bad = table.col(batch, "field", "string")
        fields = pc.dictionary_encode(pc.utf8_trim_whitespace(fields))
        values: list = [None] * batch.n
        raw = batch.cols.get("value", [None] * batch.n)
        for code, name in enumerate(fields.dictionary.to_pylist()):
            if name not in schema.fields:
                continue
            rows = pc.indices_nonzero(pc.fill_null(pc.equal(fields.indices, code), False))
            ftype = schema.fields[name].type
            typed, bad = convert_column(without_placeholders(take_rows(raw, rows), schema.fields[name].missing), ftype)
            where = rows.to_pylist()
            problems.extend((where[j], "value", reason, "bad_value") for j, reason in bad.items())
            for i, value in zip(where, python_values(typed, ftype)):
                values[i] = value
        at, at_bad = table.col(batch, "at", "datetime")
        kept, dropped = [], set()
        seconds = epoch_seconds(at).to_pylist()
        for i, (lead, field, value, when) in enumerate(zip(ids, fields.to_pylist(), values, seconds)):
            if lead is None:
                table.no_lead_id(batch, i, problems)
            elif field not in schema.fields:
                problems.append((i, "field", f"unknown field `{show_value(field)}`" if field else
                                 f"field {field_bad[i]}" if i in field_bad else "no field", "bad_row"))
            elif when is None:
                problems.append((i, "at", at_bad.get(i, "no time"), "bad_timestamp"))
            else:
                kept.append((lead, field, value, when, batch.row_of(i)) if with_rows else (lead, field, value, when))
                continue
            dropped.add(i)
        table.flush(batch, problems, dropped)
        yield from kept
