"""The Python API: load a ruleset, compile it, score leads.

    ruleset = leadscore.load("rulesets/acme/scoring.score")
    scorer = ruleset.compile()                  # or compile(backend="interpreter")
    result = scorer.score(lead, events, as_of)  # explain=True adds the reasons

Every backend offers the `Backend` interface; commands, the simulator, `explain` and
`leadscore test` use that interface, never a backend's internals.
"""

from __future__ import annotations

import linecache
import types
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Mapping, Protocol

from .compiler import runtime as rt
from .dsl.checker import CheckedRuleset
from .dsl.diagnostics import Diagnostic, render_each
from .loader import load_ruleset
from .lower import ScoringProgram, lower
from .scored import ScoredLeads

if TYPE_CHECKING:
    import pyarrow as pa   # imported by the table methods only: `leadscore check` never loads it

    from .compiler.interpreter import Interpreter
    from .compiler.python import GeneratedModule


_NO_INSTANT = object()   # no as-of yet (None is an as-of too: a bad one)
InputError = rt.InputError   # a lead, event or instant that cannot be used (strict=True: or is not as declared)


class RulesetError(Exception):
    """A ruleset that does not check; `.diagnostics` holds every problem."""

    def __init__(self, path: str, diagnostics: list[Diagnostic], sources: dict[str, str]):
        self.path = path
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.is_error]
        shown = "\n".join(render_each(errors[:5], sources))
        more = f"\n... and {len(errors) - 5} more" if len(errors) > 5 else ""
        super().__init__(f"{path}: {len(errors)} error(s)\n{shown}{more}")


class Backend(Protocol):
    """A ruleset ready to score: what every backend offers."""

    name: str
    scores: tuple[str, ...]
    blocks: tuple[str, ...]                            # the scores with rules (not derived)
    thresholds: tuple[str, ...]
    segments: tuple[str, ...]
    field_types: Mapping[str, str]                     # for runtime.prepare_fields
    property_types: Mapping[str, Mapping[str, str]]    # for runtime.prepare_events
    field_missing: Mapping[str, tuple[str, ...]]       # the schema's `missing:` texts, per field
    property_missing: Mapping[str, Mapping[str, tuple[str, ...]]]   # ... per event type and property

    def score(self, lead: Mapping[str, Any], events: Iterable[Any], as_of: Any, *,
              explain: bool = False, strict: bool = False) -> rt.Result: ...

    def score_many(self, leads: Mapping[Hashable, Mapping[str, Any]],
                   events_by_lead: Mapping[Hashable, Iterable[Any]], as_of: Any = None, *,
                   explain: bool = False, strict: bool = False) -> dict[Hashable, rt.Result]: ...

    def score_table(self, leads: pa.Table, events: pa.Table, as_of: Any, *, explain: bool = False,
                    strict: bool = False) -> pa.Table:
        """Every lead of the `leads` table at one instant, one result row per lead in its order
        (leadscore.arrow_scoring says which columns go in and come out)."""

    def evaluate(self, fields: dict, grouped: dict, instant: float, explain: bool = False) -> rt.Result: ...

    def evaluate_many(self, fields: list[dict], grouped: list[dict], instant: float,
                      explain: bool = False) -> ScoredLeads:
        """Many leads' prepared input (the runtime's representation, as `leadscore score`'s
        tables give it) scored at one instant: the batch loop's call."""


@dataclass(frozen=True)
class Ruleset:
    checked: CheckedRuleset
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def name(self) -> str:
        return self.checked.name

    @property
    def version(self) -> str:
        return self.checked.version

    def lower(self) -> ScoringProgram:
        """The form every backend reads (leadscore.lower)."""
        return lower(self.checked)

    def compile(self, backend: str = "python") -> Backend:
        """A scorer: "python" (generated Python, the fast one), "interpreter" (the reference),
        "duckdb" (one SQL statement run by DuckDB in process) or "spark" (the same statement on
        this process's local Spark session, started on first use; needs `leadscore[spark]`)."""
        match backend:
            case "python":
                from .compiler.python import generate   # not loaded by the SQL engines' start-up

                return Scorer(generate(self.checked))
            case "interpreter":
                return self.interpret()
            case "duckdb":
                from .engines.duckdb_engine import DuckDBBackend

                return DuckDBBackend(self.lower(), self.checked.schema)
            case "spark":
                from .engines.spark_engine import SparkBackend

                return SparkBackend(self.lower(), self.checked.schema)
        raise ValueError(f"unknown backend {backend!r}: use one of {', '.join((*BACKENDS, 'spark'))}")

    def interpret(self) -> Interpreter:
        """The reference interpreter (slow; for testing the compiled scorer)."""
        from .compiler.interpreter import Interpreter

        return Interpreter(self.checked)


# The backends every installation has; "spark" needs the optional extra and Java.
BACKENDS = ("python", "interpreter", "duckdb")


def load(path: str, *, allow_outside_schema: bool = False) -> Ruleset:
    """Parse and check a rule file; raise RulesetError with every diagnostic."""
    loaded = load_ruleset(str(path), allow_outside_schema=allow_outside_schema)
    if loaded.checked is None:
        raise RulesetError(str(path), loaded.diagnostics, loaded.sources)
    return Ruleset(loaded.checked, tuple(loaded.diagnostics))


class Scorer:
    """The Python backend: a compiled ruleset. `source` is the generated module (registered
    with linecache, so a traceback shows its lines and their rule-file line comments).
    `evaluate_prepared(F, G, T, explain)` is the generated function itself, returning
    (scores, thresholds, segments, reasons or None) positionally: the inner loop of this
    backend's own loops (evaluate_many, and the replay in simulator/python_backend.py, which
    calls it millions of times), used nowhere else."""

    name = "python"

    def __init__(self, generated: GeneratedModule) -> None:
        self.source = generated.source
        filename = f"<leadscore {generated.file}>"
        # Registered so a traceback through generated code shows its lines.
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        module = types.ModuleType("leadscore_generated")
        exec(compile(self.source, filename, "exec"), module.__dict__)  # our own generated code
        self.evaluate_prepared: Callable = module.evaluate
        self.atoms: Callable | None = getattr(module, "atoms", None)   # replay plans only
        self.scores: tuple[str, ...] = module.SCORES
        self.blocks: tuple[str, ...] = module.BLOCKS
        self.thresholds: tuple[str, ...] = module.THRESHOLDS
        self.segments: tuple[str, ...] = module.SEGMENTS
        self.field_types: Mapping[str, str] = module.FIELD_TYPES
        self.property_types: Mapping[str, Mapping[str, str]] = module.PROPERTY_TYPES
        self.field_missing: Mapping[str, tuple[str, ...]] = module.FIELD_MISSING
        self.property_missing: Mapping[str, Mapping[str, tuple[str, ...]]] = module.PROPERTY_MISSING
        self._prepare_fields: Callable = module.prepare_lead
        self._to_result: Callable = module.to_result
        # Only the event properties the rules read are normalised (PROPERTIES_READ).
        self._group_events: Callable = module.group_events
        self._strict = (module.FIELD_VALUES, module.PROPERTY_VALUES)
        # score's last as-of and its epoch seconds (kept alive here, so `is` cannot match a new object)
        self._last_instant: tuple[Any, float] = (_NO_INSTANT, 0.0)

    def score(self, lead: Mapping[str, Any], events: Iterable[Any], as_of: Any, *,
              explain: bool = False, strict: bool = False) -> rt.Result:
        """Score one lead. strict=True: InputError for what the default reads as missing or skips
        (an unknown field, event type or property, a wrong type, an undeclared enum value)."""
        last_as_of, instant = self._last_instant   # callers scoring lead after lead pass one as-of
        if as_of is not last_as_of:
            instant = as_of.timestamp() if type(as_of) is datetime and as_of.tzinfo is not None \
                else rt.to_epoch(as_of, "an as-of instant")
            self._last_instant = (as_of, instant)   # one tuple: a thread reads both or neither
        if strict:
            events = self._check(lead, events)
        return self._to_result(*self.evaluate_prepared(
            self._prepare_fields(lead), self._group_events(events, instant), instant, explain))

    def score_many(self, leads, events_by_lead=None, as_of: Any = None, *, explain: bool = False,
                   strict: bool = False):
        """Score many leads at one instant. `score_many(leads, events_by_lead, as_of)`: lead id ->
        result, in the order of `leads`. The earlier form `score_many(pairs, as_of)`, with
        (lead, events) pairs, still works and yields the results lazily."""
        if as_of is None:
            return (self.score(lead, events, events_by_lead, explain=explain, strict=strict)
                    for lead, events in leads)
        if not isinstance(leads, Mapping) or not isinstance(events_by_lead, Mapping):
            raise InputError("score_many(leads, events_by_lead, as_of) takes two mappings keyed by lead id")
        instant = rt.to_epoch(as_of, "an as-of instant")
        if strict:
            score = self.score
            return {key: score(lead, events_by_lead.get(key, ()), instant, explain=explain, strict=True)
                    for key, lead in leads.items()}
        # score's steps inlined, its functions bound once: the per-lead call costs as much as a rule
        to_result, evaluate, prepare_fields, group_events, events_of = (
            self._to_result, self.evaluate_prepared, self._prepare_fields, self._group_events, events_by_lead.get)
        return {key: to_result(*evaluate(prepare_fields(lead), group_events(events_of(key, ()), instant),
                                         instant, explain))
                for key, lead in leads.items()}

    def score_table(self, leads, events, as_of: Any, *, explain: bool = False, strict: bool = False):
        """Leads and events as Arrow tables -> one Arrow table of results (arrow_scoring.py)."""
        from .arrow_scoring import score_table

        return score_table(self, leads, events, as_of, explain=explain, strict=strict)

    def _check(self, lead: Any, events: Any) -> list | tuple:
        field_values, property_values = self._strict
        return rt.check_strict(lead, events, self.field_types, self.property_types, field_values,
                               property_values, self.field_missing, self.property_missing)

    def evaluate(self, fields: dict, grouped: dict, instant: float,
                 explain: bool = False) -> rt.Result:
        """Score prepared input (the runtime's representation)."""
        return self._to_result(*self.evaluate_prepared(fields, grouped, instant, explain))

    def evaluate_many(self, fields: list[dict], grouped: list[dict], instant: float,
                      explain: bool = False) -> ScoredLeads:
        return ScoredLeads.of_tuples(list(map(self.evaluate_prepared, fields, grouped, repeat(instant),
                                              repeat(explain))), explain)
