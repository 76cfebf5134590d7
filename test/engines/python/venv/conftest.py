"""Fixtures of the conversion tests on the Job's own toolchain (.venv, scripts/setup/steps/30-venv-conversion.sh).

The unit tier's conftest (test/python/conftest.py: scripts/ on sys.path, the model contract, tiny ONNX models) is
loaded under another module name, since both files are called conftest.py, and its names are re-exported here, so
its helper modules' `from conftest import ...` find them whichever conftest pytest registered last.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_UNIT = Path(__file__).resolve().parents[3] / "python"
sys.path.insert(0, str(_UNIT))
_spec = importlib.util.spec_from_file_location("unit_conftest", _UNIT / "conftest.py")
_unit = importlib.util.module_from_spec(_spec)
sys.modules["unit_conftest"] = _unit
_spec.loader.exec_module(_unit)

from unit_conftest import REPO_ROOT, contract, contract_path, log, make_onnx_model, run_tsx  # noqa: E402,F401
