#!/usr/bin/env bash
# .venv: the conversion Job's Python toolchain, for the tests in test/engines/python/venv/ (docs/conversion-toolchain.md).
# It holds every pin of scripts/requirements-conversion.txt that PyPI serves, at the Job's versions, plus the test
# runner of scripts/setup/requirements-venv.txt. torch's pin (`+cpu`) exists only on PyTorch's own index, which this
# machine cannot reach, and PyPI's torch brings GBs of CUDA wheels, so the venv sees Debian's CPU-only python3-torch
# (scripts/setup/system-packages.txt) through a .pth file that exposes that one package and nothing else of Debian's.
# A stamp records what was built; a second run compares it and the installed versions, offline, and does nothing.
set -euo pipefail
cd "$(dirname "$0")/../../.."
venv=.venv
python=${OMNIGLUE_VENV_PYTHON:-python3.11}
debian_torch=/usr/lib/python3/dist-packages/torch
wheels=.cache/wheels/conversion
say() { echo "venv-conversion: $*"; }

command -v "$python" >/dev/null || { say "$python is not on PATH (the Job runs CPython 3.11)" >&2; exit 1; }
version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
[[ $version == 3.11.* ]] || { say "$python is Python $version; the Job's pins are for CPython 3.11" >&2; exit 1; }
[[ -d $debian_torch ]] || { say "$debian_torch is missing: install python3-torch (npm run setup does)" >&2; exit 1; }

# The Job's pins less the index option and the `+local` builds only PyTorch's index has, then the test additions.
wanted=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' scripts/requirements-conversion.txt | grep -E '^[A-Za-z0-9._-]+==' | grep -v '+' || true)
wanted+=$'\n'$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' scripts/setup/requirements-venv.txt | grep -E '==' || true)
stamp="python $version"$'\n'"torch and its metadata from $debian_torch"$'\n'"$wanted"

# Offline check: the stamp is unchanged, every pinned distribution is installed at its pin, and Debian's torch is seen.
check='import importlib.metadata as m, sys
have = {d.metadata["Name"].lower(): d.version for d in m.distributions()}
bad = [f"{n} {have.get(n.lower())} != {v}" for n, v in (p.split("==") for p in sys.argv[1:]) if have.get(n.lower()) != v]
bad += [] if "torch" in have else ["no torch"]
print("; ".join(bad)) if bad else None
sys.exit(1 if bad else 0)'
if [[ -f $venv/.omniglue-stamp && $(cat "$venv/.omniglue-stamp") == "$stamp" ]] \
  && problems=$("$venv/bin/python" -c "$check" $wanted 2>&1); then
  say "up to date ($(echo "$wanted" | wc -l) pins, Python $version, torch $("$venv/bin/python" -c 'import importlib.util as u; print(u.find_spec("torch").origin)' 2>/dev/null))"
  exit 0
fi
[[ -d $venv ]] && say "rebuilding $venv (${problems:-its stamp differs from the pins})"

started=$SECONDS
rm -rf "$venv"
say "creating $venv with $python ($version)"
"$python" -m venv "$venv"
echo "$wanted" > "$venv/requirements.txt"
# pip's HTTP cache stays empty here (the registry sends no Cache-Control headers, and pip caches only what they
# allow), so the wheels are kept in a wheelhouse instead: a rebuild (new pin, deleted .venv) installs offline from
# it and downloads only what it lacks. Transitive dependencies resolve as they do in the Job (it pins none).
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
mkdir -p "$wheels"
if "${pip[@]}" install --quiet --no-index --find-links "$wheels" -r "$venv/requirements.txt" 2>/dev/null; then
  say "installed from the wheelhouse $wheels"
else
  say "downloading into $wheels: $(echo "$wanted" | tr '\n' ' ')"
  "${pip[@]}" download --progress-bar off --dest "$wheels" -r "$venv/requirements.txt"
  "${pip[@]}" install --quiet --no-index --find-links "$wheels" -r "$venv/requirements.txt"
  say "installed ($(du -sh "$wheels" | cut -f1) of wheels)"
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$venv/debian-torch"
ln -s "$debian_torch" "$venv/debian-torch/torch"
# Its metadata too, so that importlib.metadata (the Job's manifest records tool versions with it) finds its version.
for metadata in "$(dirname "$debian_torch")"/torch-*.egg-info "$(dirname "$debian_torch")"/torch-*.dist-info; do
  if [[ -e $metadata ]]; then ln -s "$metadata" "$venv/debian-torch/"; fi
done
# Appended after site-packages: the venv's numpy, onnx and protobuf stay first on sys.path.
echo "$(pwd)/$venv/debian-torch" > "$site/debian-torch.pth"
"$venv/bin/python" -c "$check" $wanted
TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" -c 'import tensorflow, tf2onnx, onnx, onnxruntime, numpy, google.protobuf, PIL, torch, pytest
print("venv-conversion: imports ok: tensorflow", tensorflow.__version__, "tf2onnx", tf2onnx.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__, "torch", torch.__version__)'
echo "$stamp" > "$venv/.omniglue-stamp"
say "built in $((SECONDS - started)) s, $(du -sh "$venv" | cut -f1)"
