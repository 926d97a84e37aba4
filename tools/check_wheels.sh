#!/usr/bin/env bash
# Build each cg-* package's wheel and install it ALONE into a fresh, empty venv (plus torch and the
# wheels of the siblings it declares), import it and run its smoke test (tools/wheel_smoke.py).
# Catches missing dependencies, files left out of a wheel (py.typed, cg-ir's vocabulary, the shipped
# checkpoint) and imports of undeclared siblings.
#
# Usage: tools/check_wheels.sh [package ...]     (default: all four)
# Env:   CGNAS_TORCH_SPEC (default torch==2.13.0): the torch requirement put in each venv.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$(pwd)/tools"

torch_spec="${CGNAS_TORCH_SPEC:-torch==2.13.0}"
work="$(mktemp -d "${TMPDIR:-/tmp}/cgnas-wheels.XXXXXX")"
trap 'rm -rf "$work"' EXIT
dist="$work/dist"
mkdir -p "$dist"

# package -> import name, extras to install, sibling packages it needs (from their built wheels)
declare -A module=([cg-ir]=cg_ir [cg-predict]=cg_predict [cg-contrast]=cg_contrast [cg-evo]=cg_evo)
declare -A extras=([cg-ir]="torch,pyg,nb101,render,testing" [cg-predict]=torch [cg-contrast]=torch
                   [cg-evo]=torch)
declare -A siblings=([cg-ir]="" [cg-predict]="cg-ir" [cg-contrast]="cg-ir cg-predict"
                     [cg-evo]="cg-ir cg-predict")

packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(cg-ir cg-predict cg-contrast cg-evo)

wheel_of() { ls "$dist"/"${module[$1]}"-*.whl; }
fail() { echo "[wheels] $pkg: $*" >&2; return 1; }

# Build every wheel first: siblings come from these, never from an index.
# POETRY_VIRTUALENVS_CREATE=false: building a wheel needs no per-package venv.
for pkg in cg-ir cg-predict cg-contrast cg-evo; do
  (cd "packages/$pkg" && POETRY_VIRTUALENVS_CREATE=false poetry build -q -f wheel -o "$dist")
done

site_packages() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

# torch is the heaviest install by far (≈1 GB unpacked): install it once, into a venv of its own,
# and let each package's otherwise empty venv see it through a .pth file. pip then counts it as
# installed, so each venv holds exactly "torch + the package + what the package declares".
s=$SECONDS
python3 -m venv "$work/torch"
if ! "$work/torch/bin/python" -m pip install -q --no-compile "$torch_spec" \
    >"$work/pip-torch.log" 2>&1; then
  cat "$work/pip-torch.log" >&2; echo "[wheels] installing $torch_spec failed" >&2; exit 1
fi
torch_site="$(site_packages "$work/torch")"
echo "[wheels] $torch_spec installed once ($((SECONDS - s)) s)"

check_one() {
  local pkg="$1" mod="${module[$1]}" whl venv listing sib
  whl="$(wheel_of "$pkg")"
  listing="$(python3 -m zipfile -l "$whl")"
  grep -q "^$mod/py.typed " <<<"$listing" || fail "py.typed missing from $whl" || return 1
  if [ "$pkg" = cg-ir ] && ! grep -q '^cg_ir/vocab/.*\.txt ' <<<"$listing"; then
    fail "vocab/*.txt missing from $whl" || return 1
  fi

  venv="$work/venv-$pkg"
  python3 -m venv "$venv"
  # torch (and only torch with its own dependencies) comes from the shared torch venv
  echo "$torch_site" >"$(site_packages "$venv")/_cgnas_torch.pth"
  local reqs=("$torch_spec" "$whl[${extras[$pkg]}]")
  for sib in ${siblings[$pkg]}; do reqs+=("$(wheel_of "$sib")"); done
  if ! "$venv/bin/python" -m pip install -q --no-compile "${reqs[@]}" \
      >"$work/pip-$pkg.log" 2>&1; then
    cat "$work/pip-$pkg.log" >&2
    fail "pip install failed" || return 1
  fi
  if ! "$venv/bin/python" -m pip check >"$work/check-$pkg.log" 2>&1; then
    cat "$work/check-$pkg.log" >&2
    fail "pip check failed" || return 1
  fi
  # import from a neutral directory, so that nothing from the source tree can be picked up
  (cd "$work" && "$venv/bin/python" - "$mod" <<'PY'
import importlib, importlib.resources, sys
name = sys.argv[1]
mod = importlib.import_module(name)
assert "site-packages" in (mod.__file__ or ""), f"{name} imported from {mod.__file__}, not the wheel"
assert importlib.resources.files(name).joinpath("py.typed").is_file(), "py.typed not installed"
if name == "cg_ir":
    vocab = [p.name for p in importlib.resources.files("cg_ir").joinpath("vocab").iterdir()]
    assert any(v.endswith(".txt") for v in vocab), f"no vocabulary file installed: {vocab}"
print(f"[wheels] {name} {getattr(mod, '__version__', '?')} imports from its wheel")
PY
  ) || fail "import failed" || return 1
  if [ "$pkg" = cg-ir ]; then
    (cd "$work" && "$venv/bin/cgnas" --help >/dev/null) || fail "'cgnas --help' failed" || return 1
  fi
  # one small use of the package, no data (tools/wheel_smoke.py), from outside the source tree
  (cd "$work" && "$venv/bin/python" "$tools/wheel_smoke.py" "$mod") || fail "smoke test failed" \
    || return 1
  rm -rf "$venv"
}

failed=()
for pkg in "${packages[@]}"; do
  s=$SECONDS
  if check_one "$pkg"; then
    echo "[wheels] $pkg OK ($((SECONDS - s)) s)"
  else
    failed+=("$pkg")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[wheels] FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "[wheels] OK: ${packages[*]}"
