"""Reading the history tables (docs/simulate.md), typed by the schema.

Tables are read in batches with pyarrow (CSV with every cell as text, JSONL,
Parquet), so memory stays flat whatever the file's size and a bad cell costs
one cell, never the file. A thread reads and parses the next batches (pyarrow
releases the GIL) while the caller's thread types the current one column-wise
with pyarrow compute: only the cells pyarrow cannot decide go through Python
one by one, which is also where every reason is written.

Modules: `sources` (files, or Arrow tables already in memory such as a
history query's result, -> batches of raw columns with row numbers;
`csvfile` for CSV, `rawbatch` the batch),
`convert` (typing), `problems` (the log), `readers` (leads, outcomes,
changes), `events`. `lead_batches` and `event_batches` hand out typed
pyarrow columns for scoring many leads; the `read_*` functions Python values.

Choices the contract leaves open:

* A value outside a field's declared `values` is kept as is: the scorer
  compares it, and rejecting it here would hide data the checker cannot see.
* Lead ids and event types are trimmed; types then match exactly. A row
  with no lead id is left out (`bad_row`), except a CSV row with no value at
  all (a blank line, `,,,`), which is skipped silently; a JSONL or Parquet
  row with no value is counted.
* Times outside 1700-01-01 .. 2199-12-31 are unusable (float epoch seconds
  are exact to the microsecond only within 2**53 us of 1970).
* Text that is not UTF-8 (CSV is read as bytes; JSONL lone surrogates) makes
  the cell missing (`bad_value`); column names that are not UTF-8, and two
  columns of one name (CSV, Parquet), refuse the table.
* A JSONL line nested deeper than MAX_JSON_DEPTH is a `bad_row`, measured
  before parsing. A CSV row longer than csvfile.MAX_ROW_BYTES refuses the
  table; a CSV quote left open to the end of the file leaves its row out.
* Only the empty cell is missing in CSV (`NULL`, `NA` are text); a number,
  boolean or datetime cell of spaces is missing too; a string keeps spaces.
* Numbers: what float() accepts, except nan and infinities; a boolean is
  never a number. In JSONL/Parquet a value of another kind is read through
  its text as a CSV cell would be (`"5000"` is a number, `1` and `"yes"` are
  booleans, `17` is the string `"17"`), but a number is never a time (the
  unit would be a guess).
* `datetime`: ISO 8601 as `datetime.fromisoformat` reads it; no offset means
  UTC; a bare date is midnight UTC. Lead fields and properties hold aware
  datetimes in `timezone.utc`; `at` is float epoch seconds.
* `list` items (any format) are trimmed and empty ones dropped; a scalar in
  a JSONL/Parquet list column is split like a CSV cell.
* JSONL `properties`: a non-null value in the object wins over a top-level
  column of the same name; an object key no event type declares is counted
  as the unknown column `properties.KEY`. In CSV a `properties` column is
  just an unknown column.
* An unknown column is counted once per column and never raises in strict
  mode: exports carry extra columns and they cost nothing. A `changes` row
  naming an undeclared field is left out (`bad_row`).
* ProblemLog keeps the first `keep` examples per (table, kind). Problems
  are logged in file order before the rows of their batch are handed out.
* CSV line numbers are exact, quoted newlines, blank lines and malformed
  rows included, for `\\n` and `\\r\\n` line ends (not bare `\\r`). A
  column-level problem points at the header (line/row 1), or in JSONL at the
  first line with the key.
* `read_outcomes` takes an optional `id_column`, as it has no schema.
"""

from .events import Event, EventColumns, event_batches, explain_event_rows, gc_paused, read_events
from .problems import ProblemLog, RowProblem, TableError, overflowed_lead, repeated_lead, unknown_lead
from .readers import LeadColumns, lead_batches, read_changes, read_leads, read_outcomes
from .sources import FORMATS, TABLES, ArrowTable, find_history_tables, table_format

__all__ = ["FORMATS", "TABLES", "ArrowTable", "Event", "EventColumns", "LeadColumns", "ProblemLog", "RowProblem", "TableError",
           "event_batches", "explain_event_rows", "find_history_tables", "gc_paused", "lead_batches", "overflowed_lead", "read_changes", "read_events",
           "read_leads", "read_outcomes", "repeated_lead", "table_format", "unknown_lead"]
