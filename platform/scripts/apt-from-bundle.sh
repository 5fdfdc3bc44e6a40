#!/usr/bin/env bash
# Installs Debian packages from an offline bundle's local repository (its system/ folder, made by
# `mesh bundle export`), never from the network: apt reads only that repository, with lists of its own,
# so the machine's sources and package lists are left as they were. Needs root.
# Usage: apt-from-bundle.sh BUNDLE PACKAGE...   (MESH_APT_OPTIONS="-s" shows what it would do)
set -euo pipefail
bundle=$1; shift
repo=$(cd "$bundle/system" 2>/dev/null && pwd) || { echo "the bundle at $bundle carries no system packages" >&2; exit 1; }
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/lists/partial" "$scratch/sources.list.d"
echo "deb [trusted=yes] file:$repo ./" > "$scratch/sources.list"
apt=(apt-get -q -o "Dir::Etc::SourceList=$scratch/sources.list" -o "Dir::Etc::SourceParts=$scratch/sources.list.d"
     -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")
"${apt[@]}" update >/dev/null
echo "installing $* from the bundle at $bundle (no network)" >&2
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends ${MESH_APT_OPTIONS:-} "$@"
