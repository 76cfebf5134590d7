#!/usr/bin/env python3
"""Entry point of the conversion Job: `python3 convert_models_to_onnx.py --help`.

Run as a file (the Job does), so this directory is put on sys.path for the
`omniglue_conversion` package beside it. Behaviour, flags and exit codes:
docs/conversion.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from omniglue_conversion.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
