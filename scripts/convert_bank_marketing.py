"""Convert UCI Bank Marketing (`bank-additional-full.csv`) into a leadscore history.

    python scripts/convert_bank_marketing.py SOURCE_CSV OUT_DIR

Writes OUT_DIR/leads.csv, events.csv and outcomes.csv (SIMULATION.md §1). Deterministic:
no randomness, the same source gives the same bytes. The rules below are explained in
docs/bank-marketing.md; every synthesised timestamp is approximate.

* lead_id = the row number (1 = the first data row).
* Dates: rows are in date order, so the year starts at 2008 and goes up by one each time
  the month goes backwards. Within a month, each run of consecutive rows with the same
  `day_of_week` is one calling day: the earliest date of the month with that weekday
  after the previous run's date. Calls are at 12:00 UTC.
* Events (`call`): `campaign` calls of the current campaign on consecutive business days
  ending at the last contact (only the last one has a `channel`, from `contact`);
  `previous` calls of earlier campaigns on consecutive business days ending `pdays` days
  before the current campaign's first call (56 days when `pdays` is 999); the latest of
  them carries `outcome` (from `poutcome`).
* Outcomes: `won` (y=yes) or `lost` (y=no) at 18:00 UTC on the last-contact date, after
  the call, so the calls count as happening before the outcome.
* Dropped: `duration` (known only after the call; it leaks the outcome), the macro
  indicators (the economy on the calling day, the same for every lead called that day:
  time context, not lead attributes), `month`/`day_of_week`/`campaign`/`pdays`/`previous`/
  `poutcome` (turned into timestamps and events), `y` (turned into the outcome).
"""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

SOURCE_COLUMNS = ["age", "job", "marital", "education", "default", "housing", "loan", "contact", "month",
                  "day_of_week", "duration", "campaign", "pdays", "previous", "poutcome", "emp.var.rate",
                  "cons.price.idx", "cons.conf.idx", "euribor3m", "nr.employed", "y"]
LEAD_FIELDS = ["age", "job", "marital", "education", "default", "housing", "loan", "contact"]
LEAD_COLUMNS = ["lead_id", *LEAD_FIELDS, "created_at"]
EVENT_COLUMNS = ["lead_id", "type", "at", "campaign", "channel", "outcome"]
OUTCOME_COLUMNS = ["lead_id", "stage", "at"]

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
FIRST_YEAR = 2008
CALL_TIME = time(12, 0)       # midday UTC: the same calendar day in Lisbon, summer or winter
OUTCOME_TIME = time(18, 0)    # end of the working day: after the last call, so it counts before the outcome
NEVER_CONTACTED = 999         # the source's `pdays` for "no date of an earlier contact"
UNDATED_GAP_DAYS = 56         # 8 weeks (a weekday, as the first call is): twice the largest `pdays` (27)


class SourceError(ValueError):
    """The source does not have the shape or the order this converter relies on."""


def read_source(path: str | Path) -> list[dict[str, str]]:
    """The source rows: semicolon-separated, quoted strings, CRLF or LF line ends."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        if reader.fieldnames != SOURCE_COLUMNS:
            raise SourceError(f"{path}: expected the columns {SOURCE_COLUMNS}, got {reader.fieldnames}")
        return list(reader)


def last_contact_dates(rows: list[dict[str, str]]) -> list[date]:
    """The rebuilt date of each row's last contact (see the module docstring)."""
    dates: list[date] = []
    year, previous_month, previous_key, day = FIRST_YEAR, None, None, None
    for number, row in enumerate(rows, start=1):
        month = _index(MONTHS, row["month"], number, "month") + 1
        weekday = _index(WEEKDAYS, row["day_of_week"], number, "day_of_week")
        if previous_month is not None and month < previous_month:
            year += 1
        key = (year, month, weekday)
        if key != previous_key:
            # A new run of rows: the next day of the month with its weekday.
            after = day if previous_key is not None and previous_key[:2] == (year, month) else None
            day = _next_weekday(year, month, weekday, after, number)
        dates.append(day)
        previous_month, previous_key = month, key
    return dates


def _index(names: list[str], value: str, number: int, column: str) -> int:
    try:
        return names.index(value)
    except ValueError:
        raise SourceError(f"row {number}: unknown {column} {value!r}") from None


def _next_weekday(year: int, month: int, weekday: int, after: date | None, number: int) -> date:
    first = date(year, month, 1) if after is None else after + timedelta(days=1)
    found = first + timedelta(days=(weekday - first.weekday()) % 7)
    if found.month != month:
        raise SourceError(f"row {number}: no {WEEKDAYS[weekday]} left in {MONTHS[month - 1]} {year} "
                          f"after {after}: the rows are not in date order")
    return found


def _business_days_before(end: date, count: int) -> list[date]:
    """`count` consecutive business days ending at `end` (included), oldest first."""
    days, day = [], end
    while len(days) < count:
        if day.weekday() < 5 or day == end:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def _stamp(day: date, at: time) -> str:
    return datetime.combine(day, at, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count(row: dict[str, str], column: str, number: int) -> int:
    try:
        return int(row[column])
    except ValueError:
        raise SourceError(f"row {number}: {column} {row[column]!r} is not an integer") from None


def convert(rows: list[dict[str, str]]) -> tuple[list[dict], list[dict], list[dict]]:
    """Source rows -> (leads, events, outcomes), each a list of rows in lead order."""
    leads, events, outcomes = [], [], []
    for number, (row, last) in enumerate(zip(rows, last_contact_dates(rows)), start=1):
        lead_id = str(number)
        campaign = _count(row, "campaign", number)
        previous = _count(row, "previous", number)
        pdays = _count(row, "pdays", number)
        if campaign < 1 or previous < 0 or pdays < 0:
            raise SourceError(f"row {number}: campaign must be at least 1, previous and pdays at least 0")
        current = _business_days_before(last, campaign)
        gap = UNDATED_GAP_DAYS if pdays == NEVER_CONTACTED else pdays
        earlier = _business_days_before(current[0] - timedelta(days=gap), previous) if previous else []

        calls = []
        for index, day in enumerate(earlier, start=1):
            outcome = row["poutcome"] if index == previous and row["poutcome"] != "nonexistent" else ""
            calls.append({"at": _stamp(day, CALL_TIME), "campaign": "previous", "channel": "", "outcome": outcome})
        for index, day in enumerate(current, start=1):
            channel = row["contact"] if index == campaign else ""
            calls.append({"at": _stamp(day, CALL_TIME), "campaign": "current", "channel": channel, "outcome": ""})
        events.extend({"lead_id": lead_id, "type": "call", **call} for call in calls)

        leads.append({"lead_id": lead_id, **{field: row[field] for field in LEAD_FIELDS},
                      "created_at": calls[0]["at"]})
        stage = {"yes": "won", "no": "lost"}.get(row["y"])
        if stage is None:
            raise SourceError(f"row {number}: y must be yes or no, not {row['y']!r}")
        outcomes.append({"lead_id": lead_id, "stage": stage, "at": _stamp(last, OUTCOME_TIME)})
    return leads, events, outcomes


def write_table(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python scripts/convert_bank_marketing.py SOURCE_CSV OUT_DIR", file=sys.stderr)
        return 2
    source, out = Path(args[0]), Path(args[1])
    try:
        leads, events, outcomes = convert(read_source(source))
    except (OSError, SourceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "leads.csv", LEAD_COLUMNS, leads)
    write_table(out / "events.csv", EVENT_COLUMNS, events)
    write_table(out / "outcomes.csv", OUTCOME_COLUMNS, outcomes)
    won = sum(1 for row in outcomes if row["stage"] == "won")
    print(f"{source} -> {out}: {len(leads)} leads, {len(events)} events, {won} won, {len(outcomes) - won} lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
