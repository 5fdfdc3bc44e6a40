#!/usr/bin/env bash
# Checks the machine-level prerequisites of the embedded stack (Python 3.11+, Java 17+, Maven) and,
# where it can (root with apt-get), installs what is missing. Otherwise it says how to get it.
# With MESH_BUNDLE (an offline bundle, `mesh bundle export`), Maven is not needed (the jars are in the
# bundle) and a missing Java runtime is installed from the bundle's packages, not from the network.
set -euo pipefail
here=$(dirname "$0")

missing=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing+=("python3.11")
java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n1; }
java_bin="${MESH_JAVA_HOME:-${JAVA_HOME:-}}"
java_bin="${java_bin:+$java_bin/bin/java}"
java_bin="${java_bin:-$(command -v java || true)}"
if [[ -z "$java_bin" || "$(java_major "$java_bin")" -lt 17 ]]; then missing+=("java17"); fi
[[ -n "${MESH_BUNDLE:-}" ]] || command -v mvn >/dev/null || missing+=("maven")

(( ${#missing[@]} == 0 )) && exit 0

if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  pkgs=()
  for m in "${missing[@]}"; do
    case $m in
      java17) pkgs+=(openjdk-17-jre-headless) ;;
      maven) pkgs+=(maven) ;;
      python3.11) echo "Python 3.11+ is required: install it (e.g. with pyenv or your package manager)." >&2; exit 1 ;;
    esac
  done
  if [[ -d "${MESH_BUNDLE:-}/system" ]]; then
    exec "$here/apt-from-bundle.sh" "$MESH_BUNDLE" "${pkgs[@]}"
  fi
  echo "installing ${pkgs[*]} with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  exit 0
fi

echo "Missing prerequisites: ${missing[*]}" >&2
echo "  Java 17+: apt-get install openjdk-17-jre-headless | brew install openjdk@17 (or set MESH_JAVA_HOME)" >&2
echo "  Maven:    apt-get install maven | brew install maven" >&2
echo "  Python:   3.11 or newer" >&2
echo "Or use Docker instead: docker compose up -d --wait && mesh init" >&2
exit 1
