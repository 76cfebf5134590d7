#!/usr/bin/env bash
# .venv-triton: the real Triton server of `npm run triton:local` (nvidia-pytriton's Triton 2.51 with the python
# backend) and the official clients (tritonclient[http,grpc]), pinned in scripts/setup/requirements-venv-triton.txt.
# A venv of its own: tritonclient's gRPC extra needs a protobuf the conversion toolchain (.venv) cannot have.
#
# Also lays out .venv-triton/triton/: the backend directory Triton loads the python backend from, with the stub
# built for this venv's Python (pytriton triton.py, Triton._prepare_triton_inference_server, does the same), and
# env.json, the paths scripts/triton-local/ starts the server with.
# Cached: a second run with the same requirements and Python only checks, and needs no network.
set -euo pipefail
cd "$(dirname "$0")/../../.."
VENV=.venv-triton
REQUIREMENTS=scripts/setup/requirements-venv-triton.txt

# The python backend's stub embeds CPython through libpython3.X.so: the interpreter must be built shared.
pick_python() {
  for candidate in python3 /usr/bin/python3; do
    command -v "$candidate" >/dev/null || continue
    if "$candidate" -c 'import sys, sysconfig; sys.exit(0 if sys.version_info[:2] == (3, 11) and sysconfig.get_config_var("Py_ENABLE_SHARED") == 1 else 1)'; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}
if ! PYTHON=$(pick_python); then
  echo "setup: .venv-triton needs a CPython 3.11 built with --enable-shared (python3 on PATH or /usr/bin/python3)" >&2
  exit 1
fi
# getconf, not `ldd --version | head -1`: head closing the pipe early kills ldd with SIGPIPE, which pipefail turns into exit 141.
GLIBC=$(getconf GNU_LIBC_VERSION | grep -oE '[0-9]+\.[0-9]+$')
if [[ $(printf '%s\n2.35\n' "$GLIBC" | sort -V | head -1) != 2.35 ]]; then
  echo "setup: nvidia-pytriton's tritonserver needs glibc >= 2.35, this machine has $GLIBC" >&2
  exit 1
fi

STAMP_VALUE=$( { cat "$REQUIREMENTS" "$0"; "$PYTHON" -c 'import sys; print(sys.executable, sys.version)'; } | sha256sum | cut -d' ' -f1)
STAMP="$VENV/.setup-stamp"
if [[ -f $STAMP && $(cat "$STAMP") == "$STAMP_VALUE" && -f $VENV/triton/env.json ]]; then
  echo "setup: $VENV is up to date ($(du -sh "$VENV" | cut -f1))"
  exit 0
fi

started=$(date +%s)
echo "setup: building $VENV with $PYTHON ($("$PYTHON" --version))"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
echo "setup: installing $(grep -c '==' "$REQUIREMENTS") pinned packages (about 600 MB, a minute with a warm pip cache)"
"$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$REQUIREMENTS"

echo "setup: laying out $VENV/triton (python backend and stub for Python 3.11)"
"$VENV/bin/python" - <<'EOF'
import json, pathlib, shutil, sys, sysconfig

import pytriton

dist = pathlib.Path(pytriton.__file__).parent / "tritonserver"
out = pathlib.Path(".venv-triton/triton").resolve()
backend = out / "backends" / "python"
backend.mkdir(parents=True)
for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
    shutil.copy2(dist / "backends" / "python" / name, backend / name)
version = f"{sys.version_info[0]}.{sys.version_info[1]}"
shutil.copy2(dist / "python_backend_stubs" / version / "triton_python_backend_stub", backend / "triton_python_backend_stub")
env = {
    "tritonserver": str(dist / "bin" / "tritonserver"),
    "backendDirectory": str(out / "backends"),
    # libtritonserver and its libraries (auditwheel's folder), and the directory of this Python's libpython.
    "libraryPath": [str(dist.parent.parent / "nvidia_pytriton.libs"), sysconfig.get_config_var("LIBDIR")],
    # The stub finds this venv's site-packages (onnxruntime, numpy) through the python3 first on PATH.
    "binPath": str(pathlib.Path(sys.executable).parent),
    "python": sys.executable,
}
(out / "env.json").write_text(json.dumps(env, indent=2) + "\n")
EOF
echo "$STAMP_VALUE" > "$STAMP"
echo "setup: $VENV ready in $(( $(date +%s) - started )) s, $(du -sh "$VENV" | cut -f1)"
