"""`score --engine duckdb`: the events table read and typed in bulk, without Python per row.

A Parquet file is read by DuckDB itself (`read_parquet`), a CSV file by pyarrow's CSV parser (the
one the project's reader uses, multithreaded and streamed into DuckDB), every cell as text but a
Parquet column already typed. One SQL pass types every cell and marks each row clean or not: a
row is clean when each of its cells has a shape on which DuckDB's reading and the project's
(tables/convert.py) are known to agree — an id of a known lead or one with no space at either
end, a declared type, a time `YYYY-MM-DD[( |T)hh:mm[:ss[.f]]][Z|±hh:mm]` inside the supported
range, a number `[+-]digits[.digits][e±digits]` that is finite, a boolean `true/false/yes/no/1/0`
in any ASCII case, a property's placeholder text exactly; in Parquet, a timestamp (s, ms, us, ns;
naive is UTC; nanoseconds truncated towards zero, as pyarrow casts them) inside the range, an
integer or float that is finite, a boolean. Clean rows never give a problem. The other rows — a
few, or none — are handed to the project's reader (tables.explain_event_rows) with their row
numbers and their cells as the file holds them: it explains them in the same words, and keeps
those it can use (an id to trim, a time written another way).

Where the times are text, the file is read once: the pass stores the typed rows in a DuckDB
table, and every later step (the counts, the rows set apart, the view `events` the scoring
statement reads) reads that table. A CSV's line breaks are counted in the bytes pyarrow parses,
as it reads them, not by a second reading. A Parquet file of typed times is only scanned: the
scoring statement reads it again through `events`, without the few rows set apart (storing it
costs more than that second reading). The file's identity (device, inode, size, modification
time) is taken before its header is read and checked after its rows are, and by the caller
after the statement: a file that changed in between is an error (TableError), never a result
mixing two versions.

A file this path could read differently from the project's reader is left to that reader, the
whole file, and nothing is logged before that is decided (`read_events` returns None): JSONL;
a table in memory; what is not a regular file (a FIFO); a CSV with a byte-order mark, a carriage
return, a NUL byte, a malformed row, a row longer than the parse block, or a record spanning
lines (row numbers are then lines: data row k is line k + 1); a Parquet file with a column of
another type (a decimal, a date, a dictionary, a number for a string or a boolean), a
`properties` column, or names equal but for case (DuckDB's names are case-insensitive); a file
with invalid UTF-8 or two columns of one name; a `list` property; a property declared with two
types; missing columns (the project's reader then says which).

User text never enters the SQL unescaped: the file's name and every schema value are escaped
literals (sqlglot; the view `events` outlives any bound parameter), Parquet column names are
quoted identifiers, CSV columns are renamed `c0`, `c1`, ... before DuckDB sees them.
"""

from __future__ import annotations

import io
import os
import stat
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from ..tables import ProblemLog, RowProblem, TableError, explain_event_rows, table_format, unknown_lead
from ..tables.convert import END_SECOND, FIRST_SECOND
from ..tables.csvfile import read_csv
from ..tables.rawbatch import Batch

_BLOCK = 1 << 22            # bytes of CSV per parse block: a longer row goes to the project's reader
_ROWS = "__leadscore_event_rows"   # the table of the file's rows, typed, where the times are text
_ODD = "__leadscore_odd_rows"      # a typed Parquet file's rows set apart (the file is read again)
_EDGE = r"^[\s\pZ\pC]|[\s\pZ\pC]$"   # a space or control character at either end (any Unicode one)
_TIME = (r"\d{4}-\d\d-\d\d|\d{4}-\d\d-\d\d[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
         r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?")
_NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_TRUE = r"[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|1"
_FALSE = r"[Ff][Aa][Ll][Ss][Ee]|[Nn][Oo]|0"
_SQL_TYPES = {"string": "VARCHAR", "number": "DOUBLE", "boolean": "BOOLEAN", "datetime": "TIMESTAMPTZ"}
_FIRST, _END = (datetime.fromtimestamp(second, timezone.utc) for second in (FIRST_SECOND, END_SECOND))
_EXPLAINED_ROWS = 1 << 16   # rows handed to the project's reader at a time
_TIMESTAMP = pa.timestamp("us", "UTC")
_ARROW = {"string": pa.string(), "number": pa.float64(), "boolean": pa.bool_(), "datetime": _TIMESTAMP,
          "list": pa.list_(pa.string())}
_RESERVED = {"lead_id", "type", "at", "seq"}   # the events relation's own columns


def read_events(connection, path, schema, log: ProblemLog, leads: str, key: str, ids: pa.Array,
                instant: float) -> tuple[int, int] | None:
    """Create the view `events` (lead_id, type, at, seq: the row in the file, then one column per
    property) of the usable events of the leads in relation `leads` (`ids`, in its column `key`),
    log the table's problems as the project's reader would, in the same order, and give how many
    usable events are at or before `instant` and after it. None: the file is left to the
    project's reader, and nothing was logged."""
    plan = _plan(path, schema)
    if plan is None:
        return None
    import duckdb

    try:
        odd, scored, later = plan.load(connection, leads, key, round(instant * 1e6))
    except (duckdb.Error, pa.ArrowException, OSError):
        odd = None   # a cell DuckDB or pyarrow refuses (invalid UTF-8, a row past the parse block)
    if odd is None:
        connection.execute(f"DROP TABLE IF EXISTS {_ROWS}").fetchall()
        return None
    rescued = _explain(connection, plan, odd, path, schema, log)
    # unknown leads in file order, after every other problem, as the project's reader logs them
    found = pc.is_in(rescued["lead_id"], value_set=ids)
    lost = rescued.filter(pc.invert(found))
    unknown = (connection.sql(f"SELECT row, lead_id FROM {odd} WHERE clean AND NOT known").to_arrow_table()
               .cast(pa.schema([("row", pa.int64()), ("lead_id", pa.string())])) if odd else
               pa.schema([("row", pa.int64()), ("lead_id", pa.string())]).empty_table())
    unknown = pa.concat_tables([unknown, pa.table({"row": lost["seq"], "lead_id": lost["lead_id"]})]).sort_by("row")
    for row, lead in zip(unknown["row"].to_pylist(), unknown["lead_id"].to_pylist()):
        log.add(RowProblem("events", str(path), row, schema.id_column, unknown_lead(lead), "unknown_lead"))
    rescued = rescued.filter(found)
    connection.register("__leadscore_rescued_events", rescued)
    named = "".join(f", {_quoted(name)}" for name in plan.properties)
    connection.execute(f"CREATE TEMP VIEW events AS {plan.usable(odd)} "
                       f"UNION ALL SELECT lead_id, type, \"at\", seq{named} FROM __leadscore_rescued_events").fetchall()
    early = pc.sum(pc.less_equal(rescued["at"], pa.scalar(round(instant * 1e6), pa.int64()).cast(_TIMESTAMP))).as_py()
    return scored + (early or 0), later + rescued.num_rows - (early or 0)


def _quoted(name: str) -> str:
    from sqlglot import exp   # imported by the bulk path only, not at every start-up

    return exp.to_identifier(name, quoted=True).sql("duckdb")


class _Plan:
    """Which column of the file holds what, and how to read the file into DuckDB."""

    def __init__(self, path: str, fmt: str, names: list[str], kept: list[int], roles: dict, properties: dict,
                 missing: dict, types: tuple, kinds: dict, identity: tuple):
        self.path, self.fmt, self.names, self.kept, self.roles = path, fmt, names, kept, roles
        # property -> field type, property -> placeholder texts, the event types, column -> its
        # Parquet type where that is not text
        self.properties, self.missing, self.types, self.kinds = properties, missing, types, kinds
        self.identity = identity    # the file's, before its header was read (_identity)
        self.malformed: list = []   # a CSV's malformed rows, as pyarrow meets them
        self.values = ""            # the SQL of the usable typed rows, set by load

    def load(self, connection, leads: str, key: str, instant_us: int) -> tuple[str | None, int, int]:
        """Read the file: (the relation of the rows not usable as typed in bulk — "" for none, None
        when the file must be left to the project's reader —, the usable events at or before the
        instant, after it). A file whose times are text is typed once into the table _ROWS (typing
        a time costs more than storing it; a CSV's stream can be read once); a Parquet file of
        typed times is only scanned, and read again by the scoring statement through `events`
        (storing it cost half as much again as the whole run). Raises TableError when the file
        changed since the plan read its header; the caller checks again after the statement."""
        lead, kind, at = (f"c{self.roles[role]}" for role in ("lead", "type", "at"))
        values = [f"{lead} AS lead_id", f"{kind} AS type", f'{self._typed(self.roles["at"], "datetime", None)} AS "at"']
        checks = [f"{kind} IN (SELECT unnest({_literal(list(self.types))}))", _in_range('"at"')]
        for k, (name, ftype) in enumerate(self.properties.items()):
            if name not in self.roles:
                values.append(f"CAST(NULL AS {_SQL_TYPES[ftype]}) AS p{k}")
                continue
            column = self.roles[name]
            missing = None if column in self.kinds or not self.missing.get(name) else \
                f"list_contains({_literal(list(self.missing[name]))}, c{column})"
            values.append(f"{self._typed(column, ftype, missing)} AS p{k}")
            checks.append(self._clean(column, f"p{k}", ftype, missing))
        source, lines = self._source(connection)
        raw = [f"c{k}" for k in self.kept]   # every column the roles name among them
        typed = ["lead_id", "type", '"at"', *(f"p{k}" for k in range(len(self.properties)))]
        # an id of a known lead is trimmed already (the leads' ids are): the edge test only for the others
        known = f"{lead} IN (SELECT {_quoted(key)} FROM {leads})"
        edge = f"CASE WHEN known_id THEN TRUE ELSE {lead} <> '' AND NOT regexp_matches({lead}, {_literal(_EDGE)}) END"
        clean = " AND ".join(f"COALESCE({check}, FALSE)" for check in [edge, *checks])
        # typed once (inner), then tested (outer): an expression is not evaluated twice
        inner = f"SELECT row, {known} AS known_id, {', '.join(values + raw)} FROM {source}"
        checked = (f"SELECT row, clean, clean AND known_id AS known, {', '.join(typed + raw)} FROM "
                   f"(SELECT *, {clean} AS clean FROM ({inner}))")
        stored = self.fmt == "csv" or self.roles["at"] not in self.kinds
        self.values = f"SELECT row, {', '.join(values)} FROM {source}"
        if stored:
            # the cells of a clean row are not kept: only a row set apart is explained from them
            outer = ", ".join(["row", "clean", "known", *typed,
                               *(f"CASE WHEN clean THEN NULL ELSE c{k} END AS c{k}" for k in self.kept)])
            try:
                connection.execute(f"CREATE TEMP TABLE {_ROWS} AS SELECT {outer} FROM ({checked})").fetchall()
            finally:
                if self.fmt == "csv":
                    connection.unregister("__leadscore_raw")
                    lines.close()
            checked = f"SELECT * FROM {_ROWS}"
            self.values = f"SELECT {', '.join(['row', *typed])} FROM {_ROWS} WHERE known"
        odd, scored, later = connection.execute(
            f'SELECT count(*) FILTER (WHERE NOT known), count(*) FILTER (WHERE known AND epoch_us("at") <= $us), '
            f'count(*) FILTER (WHERE known AND epoch_us("at") > $us) FROM ({checked})', {"us": instant_us}
        ).fetchall()[0]
        if not unchanged(self.path, self.identity):
            raise TableError(changed_while_read(self.path))
        # every record one line (data row k is line k + 1), in the very bytes parsed
        if self.fmt == "csv" and (self.malformed or odd + scored + later + 1 != lines.count()):
            return None, 0, 0
        if stored:
            return (_ROWS if odd else ""), scored, later
        if not odd:
            return "", scored, later
        connection.execute(f"CREATE TEMP TABLE {_ODD} AS SELECT row, clean, known, lead_id, "
                           f"{', '.join(raw)} FROM ({checked}) WHERE NOT known").fetchall()
        return _ODD, scored, later

    def usable(self, odd: str) -> str:
        """The SQL of the events read in bulk that are usable (without the `odd` rows of a file
        read again)."""
        typed = "".join(f", p{k} AS {_quoted(name)}" for k, name in enumerate(self.properties))
        left_out = f" WHERE row NOT IN (SELECT row FROM {odd})" if odd == _ODD else ""
        return f'SELECT lead_id, type, "at", row AS seq{typed} FROM ({self.values}){left_out}'

    def _source(self, connection) -> tuple[str, _LineBreaks | None]:
        """The relation of the file's rows (`row`, then c0, c1, ...), and for a CSV its line breaks
        as they are read."""
        if self.fmt == "parquet":
            picked = ", ".join(f"{_quoted(self.names[k])} AS c{k}" for k in self.kept)
            return (f"(SELECT file_row_number + 1 AS row, {picked} "
                    f"FROM read_parquet({_literal(self.path)}, file_row_number = true))"), None
        lines = _LineBreaks(self.path)
        try:
            connection.register("__leadscore_raw", _csv_stream(lines, self.names, self.malformed))
        except BaseException:
            lines.close()
            raise
        return "__leadscore_raw", lines

    def _typed(self, column: int, ftype: str, missing: str | None) -> str:
        """The SQL of column `column` typed; `missing`: the SQL of 'the cell is a placeholder'."""
        x, kind = f"c{column}", self.kinds.get(column)
        if kind is not None:   # a typed Parquet column: read as the project's reader casts it
            if ftype == "number":
                return f"CAST({x} AS DOUBLE)"
            if ftype == "datetime" and kind.unit == "ns":   # pyarrow truncates towards zero, DuckDB's cast floors
                return f"CAST(make_timestamp(epoch_ns({x}) // 1000) AS TIMESTAMPTZ)"
            return f"TRY_CAST({x} AS TIMESTAMPTZ)" if ftype == "datetime" else x
        guard = f"WHEN {missing} THEN NULL " if missing else ""
        if ftype == "string":
            return f"CASE WHEN {x} = '' {'OR ' + missing + ' ' if missing else ''}THEN NULL ELSE {x} END"
        if ftype == "datetime":
            return f"CASE {guard}WHEN regexp_full_match({x}, {_literal(_TIME)}) THEN TRY_CAST({x} AS TIMESTAMPTZ) END"
        if ftype == "number":
            return f"CASE {guard}WHEN regexp_full_match({x}, {_literal(_NUMBER)}) THEN TRY_CAST({x} AS DOUBLE) END"
        return (f"CASE {guard}WHEN regexp_full_match({x}, {_literal(_TRUE)}) THEN TRUE "
                f"WHEN regexp_full_match({x}, {_literal(_FALSE)}) THEN FALSE END")

    def _clean(self, column: int, value: str, ftype: str, missing: str | None) -> str:
        """The SQL of 'column `column`, typed as `value`, is clean'."""
        x, kind = f"c{column}", self.kinds.get(column)
        if ftype == "string":   # placeholders are compared trimmed: only a cell with no space at its ends
            return f"{x} IS NULL OR NOT regexp_matches({x}, {_literal(_EDGE)})" if missing else "TRUE"
        placeholder = f"{missing} OR " if missing else ""
        if ftype == "datetime" and kind is not None and kind.unit == "ns":   # the range in the column's unit
            test = f"epoch_ns({x}) >= {FIRST_SECOND * 10**9} AND epoch_ns({x}) < {END_SECOND * 10**9}"
        else:
            test = {"datetime": _in_range(value), "number": f"isfinite({value})",
                    "boolean": f"{value} IS NOT NULL"}[ftype]
        return f"{x} IS NULL OR {placeholder}({test})"


def _in_range(value: str) -> str:
    return f'{value} >= {_literal(_FIRST)} AND {value} < {_literal(_END)}'


def _literal(value) -> str:
    """A value as an escaped DuckDB literal (sqlglot): text, a list of texts, or a UTC time."""
    from sqlglot import exp

    if isinstance(value, datetime):
        return f"TIMESTAMPTZ {_literal(value.isoformat())}"
    return exp.convert(value).sql("duckdb")


def _csv_stream(lines: _LineBreaks, names: list[str], malformed: list) -> pa.RecordBatchReader:
    """The CSV's rows as text (pyarrow's parser, as the project's reader, reading `lines`), columns
    renamed c0, c1, ..., with `row`, the line of each (valid while every record is one line); a
    malformed row is noted."""

    def on_invalid(row) -> str:
        malformed.append(row)
        return "skip"

    reader = pcsv.open_csv(
        lines, read_options=pcsv.ReadOptions(use_threads=True, block_size=_BLOCK),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                        invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), null_values=[""],
                                            strings_can_be_null=True, quoted_strings_can_be_null=True))
    schema = pa.schema([("row", pa.int64()), *((f"c{k}", pa.string()) for k in range(len(names)))])

    def batches():
        line = 2
        for batch in reader:
            rows = pa.array(range(line, line + batch.num_rows), pa.int64())
            line += batch.num_rows
            yield pa.RecordBatch.from_arrays([rows, *batch.columns], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


class _LineBreaks(io.RawIOBase):
    """A CSV file's bytes as pyarrow's parser reads them, its lines counted on the way: the count
    is of the very bytes parsed, in the same pass (a second reading could meet another file)."""

    def __init__(self, path: str):
        super().__init__()
        self.file = open(path, "rb")
        self.lines, self.last, self.head = 0, b"\n", b""
        self.parted = False   # a byte went by on which pyarrow's lines and the project's could part

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        if chunk:
            self.head += chunk[:3 - len(self.head)]
            self.parted = self.parted or b"\r" in chunk or b"\0" in chunk
            self.lines, self.last = self.lines + chunk.count(b"\n"), chunk[-1:]
        return chunk

    def count(self) -> int | None:
        """The lines read, or None when a carriage return, a NUL byte or a byte-order mark was
        among them."""
        if self.parted or self.head == b"\xef\xbb\xbf":
            return None
        return self.lines + (self.last != b"\n")

    def close(self) -> None:
        self.file.close()
        super().close()


def _identity(found: os.stat_result) -> tuple:
    """What tells a file from another or from its own earlier state: device, inode, size and
    modification time (nanoseconds)."""
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns


def file_identity(path) -> tuple | None:
    """The file's `_identity` now (None: no file, or none that can be read: the events may be a
    table in memory)."""
    try:
        return _identity(os.stat(path))
    except (OSError, TypeError, ValueError):
        return None


def unchanged(path, identity: tuple | None) -> bool:
    return identity is not None and file_identity(path) == identity


def changed_while_read(path) -> str:
    return f"{path}: the file changed while it was read; score again once it is written"


def _plan(path, schema) -> _Plan | None:
    """How to read the file in bulk, or None when only the project's reader may (module docstring)."""
    fmt = table_format(path)   # "arrow" for a table in memory
    if fmt not in ("csv", "parquet"):
        return None
    try:
        found = os.stat(path)   # before the header is read: a change after it is seen (load)
        if not stat.S_ISREG(found.st_mode):
            return None
        if fmt == "csv":
            names, _ = read_csv(str(path))   # the header only: the rows are read here
            kinds = None
        else:
            arrow = pq.read_schema(path)
            names, kinds = arrow.names, arrow.types
    except (OSError, pa.ArrowException, TableError, UnicodeDecodeError, ValueError):
        return None
    folded = [name.casefold() for name in names if name]
    if len(set(folded)) != len(folded) or any("\n" in name or "\r" in name for name in names):
        return None
    properties: dict[str, str] = {}
    missing: dict[str, tuple] = {}
    for spec in schema.events.values():
        for name, prop in spec.properties.items():
            if properties.setdefault(name, prop.type) != prop.type or prop.type == "list" or name in _RESERVED:
                return None
            if prop.missing:
                if missing.setdefault(name, prop.missing) != prop.missing:
                    return None
    lead = next((c for c in (schema.id_column, "lead_id") if c in names), None)
    if lead is None or "type" not in names or "at" not in names or fmt == "parquet" and (
            "properties" in names or "file_row_number" in names):
        return None
    position = {name: k for k, name in enumerate(names)}
    roles = {"lead": position[lead], "type": position["type"], "at": position["at"],
             **{name: position[name] for name in properties if name in position}}
    known = {schema.id_column, "lead_id", "type", "at", *properties}
    kept = list(range(len(names))) if fmt == "csv" else [k for k, name in enumerate(names) if name in known]
    typed = {} if kinds is None else {k: kinds[k] for k in kept if not _is_text(kinds[k])}
    ftypes = {roles["lead"]: "string", roles["type"]: "string", roles["at"]: "datetime",
              **{roles[name]: ftype for name, ftype in properties.items() if name in roles}}
    if not all(_TYPED_AS[ftypes.get(k, "string")](kind) for k, kind in typed.items()):
        return None
    return _Plan(str(path), fmt, names, kept, roles, properties, missing, tuple(schema.events), typed,
                 _identity(found))


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_float32(kind) or pa.types.is_float64(kind)


# The Parquet column types read without text, per field type: those DuckDB and the project's
# reader (tables/convert.py) type alike; any other column leaves the file to that reader
_TYPED_AS = {"string": lambda kind: False, "datetime": pa.types.is_timestamp, "number": _numeric,
             "boolean": pa.types.is_boolean}


def _explain(connection, plan: _Plan, odd: str, path, schema, log: ProblemLog) -> pa.Table:
    """The rows not typed in bulk (in relation `odd`; "" for none), explained by the project's
    reader (which also logs the table's unknown columns), a batch at a time; the usable ones among
    them, as an events table."""
    picked = ", ".join(f"c{k}" for k in plan.kept)
    reader = connection.sql(f"SELECT row, {picked} FROM {odd} WHERE NOT clean ORDER BY row"
                            ).to_arrow_reader(_EXPLAINED_ROWS) if odd else ()
    numbers: list[pa.Array] = []

    def batches():
        for part in reader:
            rows = part.column(0).cast(pa.int64())
            numbers.append(rows)
            # a typed column as the file holds it (DuckDB gives its times in microseconds, in UTC)
            cells = {plan.names[k]: part.column(1 + j) if k not in plan.kinds else part.column(1 + j).cast(plan.kinds[k])
                     for j, k in enumerate(plan.kept)}
            yield Batch(cells, part.num_rows, rows.to_pylist().__getitem__, [])

    tables = [event_table(None, schema, plan.properties).append_column("seq", pa.array([], pa.int64()))]
    for columns in explain_event_rows(path, schema, log, plan.names, batches()):
        tables.append(event_table(columns, schema, plan.properties).append_column(
            "seq", numbers[-1].take(columns.index)))
    return pa.concat_tables(tables)


def event_table(part, schema, properties: dict) -> pa.Table:
    """Typed events (tables.EventColumns, or None for none) as the table DuckDB reads: lead_id,
    type, at, then one column per property."""
    if part is None:
        return pa.schema([("lead_id", pa.string()), ("type", pa.string()), ("at", _TIMESTAMP),
                          *((n, _ARROW[t]) for n, t in properties.items())]).empty_table()
    micros = pc.cast(pc.round(pc.multiply(part.at, 1e6)), pa.int64())
    columns = {"lead_id": part.ids, "type": pa.array(list(schema.events), pa.string()).take(part.types),
               "at": micros.cast(_TIMESTAMP)}
    for name, ftype in properties.items():
        values = part.properties.get((name, ftype))
        columns[name] = pa.nulls(len(part.ids), _ARROW[ftype]) if values is None else values.cast(_ARROW[ftype])
    return pa.table(columns)
