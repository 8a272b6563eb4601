"""The engine is a pure library: importing it must not drag in the web stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MAIN = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
{imports}
loaded = sorted({{name.split(".")[0] for name in sys.modules}})
print(json.dumps(loaded))
"""


def _loaded_by(imports: str) -> set[str]:
    """Top-level modules a fresh interpreter holds after these imports (this test process
    may have Flask loaded already)."""
    env = {**os.environ, "PYTHONPATH": str(MAIN)}
    proc = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)],
                          capture_output=True, text=True, env=env, cwd=MAIN, check=True)
    return set(json.loads(proc.stdout))


def test_importing_the_engine_pulls_in_neither_flask_nor_sqlalchemy() -> None:
    loaded = _loaded_by("import survey.ikm\nimport survey.ikm.cli")
    # numpy and scipy may load optional helpers of their own (whatever is installed).
    allowed = _loaded_by("import numpy, scipy.special, scipy.stats")
    assert "survey" in loaded
    for forbidden in ("flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug", "jinja2",
                      "pandas", "polars", "samplics"):
        assert forbidden not in loaded, forbidden
    third_party = {m for m in loaded - set(sys.stdlib_module_names)
                   if not m.startswith("_")}
    assert third_party <= allowed | {"survey"}, third_party - allowed
