"""The simulation result as JSON (docs/simulate.md): stable keys, no NaN or infinity."""

from __future__ import annotations

import json
import math

from ..safe_text import json_text


def _clean(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def render_json(result: dict) -> str:
    return json_text(json.dumps(_clean(result), indent=2, ensure_ascii=False, allow_nan=False)) + "\n"
