#!/usr/bin/env bash
# The portal's browser tests drive Debian's Chromium through Playwright (never a browser download).
# As root with apt-get, install it when it is missing (from the offline bundle MESH_BUNDLE when it
# carries system packages, never then from the network); otherwise say how to get it (the tests skip).
set -euo pipefail
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [[ -n "${MESH_CHROMIUM:-}" ]] && exit 0
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  if [[ -d "${MESH_BUNDLE:-}/system" ]]; then
    exec "$(dirname "$0")/apt-from-bundle.sh" "$MESH_BUNDLE" chromium
  fi
  echo "installing chromium with apt-get (for the portal's browser tests)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "No chromium: the portal's browser tests will be skipped. Install it (apt-get install chromium)" >&2
echo "or point MESH_CHROMIUM at a Chromium binary." >&2
