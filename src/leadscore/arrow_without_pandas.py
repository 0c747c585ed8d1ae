"""Keep pyarrow from importing pandas on paths that never hand it a pandas object.

pyarrow asks, the first time it converts a Python value (`pa.array`, `pa.scalar`, a compute
function given a Python scalar ...), whether pandas can be imported, and imports it if so: about
0.3 processor seconds, a large part of `leadscore score`'s start-up, for an answer the score path
never uses (leadscore is not a pandas user; pandas is there when the `spark` extra is). pyarrow
asks once and remembers the answer for its implicit checks only: its explicit pandas calls
(`to_pandas`, ...) try the import again, so they keep working afterwards.
"""

from __future__ import annotations

import sys


def answer_without_pandas() -> None:
    """Let pyarrow's one implicit question be answered with "no pandas". Nothing to do when
    pandas is already imported (then pyarrow's answer costs nothing) or pyarrow already asked."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    refusal = _RefusePandas()
    sys.meta_path.insert(0, refusal)
    try:
        pa.array([None])   # a Python list: pyarrow asks here
    finally:
        sys.meta_path.remove(refusal)


class _RefusePandas:
    """An import finder under which `import pandas` fails with ImportError, as without pandas.
    (A None in sys.modules would not do: pyarrow's compiled import takes it for the module.)"""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas":
            raise ImportError("pandas is not imported on this path", name=name)
        return None
