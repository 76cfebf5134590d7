"""The conversion program's unit tests (test/python/) again, on the Job's pinned toolchain.

The unit tier runs them under Debian's python3 (onnx 1.12, numpy 1.24, no onnxruntime) for speed; this runs the same
files with .venv's interpreter (onnx, numpy, protobuf and onnxruntime at the Job's pins; ONNX graphs in the Job's
onnxruntime, test/python/ort_node.py), so no result of that suite rests on versions the Job does not use. A separate
pytest process: both directories have a conftest.py, and each suite imports its own as `conftest`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO_ROOT


def test_the_unit_tests_of_the_conversion_program_pass_on_the_jobs_toolchain():
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test/python"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr[-2000:]
    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 200, summary
    print(f"test/python on the Job's toolchain: {summary}")
