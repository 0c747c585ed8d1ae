"""`leadscore diff`: what changed between two rulesets, in the words of a review."""

from .compare import Change, compare

__all__ = ["Change", "compare"]
