"""leadscore: lead scoring as code.

The API is loaded on first use so that `leadscore check` starts fast:
`leadscore.load`, `leadscore.RulesetError`, `leadscore.Ruleset`, `leadscore.Scorer`,
`leadscore.InputError`.
`leadscore.__version__` is the installed package's version: pyproject.toml is the one place
it is written.
"""

_API = ("load", "RulesetError", "Ruleset", "Scorer", "InputError")


def __getattr__(name: str):
    if name in _API:
        from . import api
        return getattr(api, name)
    if name == "__version__":
        from importlib import metadata
        return metadata.version("leadscore")
    raise AttributeError(f"module 'leadscore' has no attribute {name!r}")


__all__ = list(_API)
