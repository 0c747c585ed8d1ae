"""The Python API: load a ruleset, compile it, score leads.

    ruleset = leadscore.load("rulesets/acme/scoring.score")
    scorer = ruleset.compile()
    result = scorer.score(lead, events, as_of)
"""

from __future__ import annotations

import linecache
import types
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from .compiler import runtime as rt
from .compiler.interpreter import Interpreter
from .compiler.python import GeneratedModule, generate
from .dsl.checker import CheckedRuleset
from .dsl.diagnostics import Diagnostic, render_text
from .loader import load_ruleset


class RulesetError(Exception):
    """A ruleset that does not check; `.diagnostics` holds every problem."""

    def __init__(self, path: str, diagnostics: list[Diagnostic], sources: dict[str, str]):
        self.path = path
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.is_error]
        shown = "\n".join(render_text(d, sources.get(d.span.file, "").splitlines())
                          for d in errors[:5])
        more = f"\n... and {len(errors) - 5} more" if len(errors) > 5 else ""
        super().__init__(f"{path}: {len(errors)} error(s)\n{shown}{more}")


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

    def compile(self) -> Scorer:
        """The compiled Python scorer."""
        return Scorer(generate(self.checked))

    def interpret(self) -> Interpreter:
        """The reference interpreter (slow; for testing the compiled scorer)."""
        return Interpreter(self.checked)


def load(path: str, *, allow_outside_schema: bool = False) -> Ruleset:
    """Parse and check a rule file; raise RulesetError with every diagnostic."""
    loaded = load_ruleset(str(path), allow_outside_schema=allow_outside_schema)
    if loaded.checked is None:
        raise RulesetError(str(path), loaded.diagnostics, loaded.sources)
    return Ruleset(loaded.checked, tuple(loaded.diagnostics))


class Scorer:
    """A compiled ruleset. `source` is the generated module; `line_map` maps
    its lines to the rule file's."""

    def __init__(self, generated: GeneratedModule) -> None:
        self.source = generated.source
        self.line_map = generated.line_map
        filename = f"<leadscore {generated.file}>"
        # Registered so a traceback through generated code shows its lines.
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        module = types.ModuleType("leadscore_generated")
        exec(compile(self.source, filename, "exec"), module.__dict__)  # our own generated code
        self.module = module
        self._evaluate = module.evaluate
        self.scores: tuple[str, ...] = module.SCORES
        self.thresholds: tuple[str, ...] = module.THRESHOLDS
        self.segments: tuple[str, ...] = module.SEGMENTS

    def score(self, lead: Mapping[str, Any], events: Iterable[Any], as_of: Any) -> rt.Result:
        return self.module.score(lead, events, as_of)

    def score_many(self, leads: Iterable[tuple[Mapping[str, Any], Iterable[Any]]], as_of: Any,
                   explain: bool = False) -> Iterator[rt.Result]:
        """Score many (lead, events) pairs at one instant, lazily."""
        instant = rt.to_epoch(as_of, "an as-of instant")
        fields, properties = self.module.FIELD_TYPES, self.module.PROPERTY_TYPES
        missing, property_missing = self.module.FIELD_MISSING, self.module.PROPERTY_MISSING
        for lead, events in leads:
            grouped = rt.prepare_events(events, properties, until=instant, missing=property_missing)
            yield self.evaluate(rt.prepare_fields(lead, fields, missing), grouped, instant, explain)

    def evaluate(self, fields: dict, grouped: dict, instant: float,
                 explain: bool = False) -> rt.Result:
        """Score prepared input (the runtime's representation)."""
        scores, thresholds, segments, reasons = self._evaluate(fields, grouped, instant, explain)
        return rt.Result(dict(zip(self.scores, scores)), dict(zip(self.thresholds, thresholds)),
                         dict(zip(self.segments, segments)),
                         tuple(rt.Reason(*r) for r in reasons) if reasons else ())
