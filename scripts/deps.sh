#!/usr/bin/env bash
# Install what heapscope needs, only what is missing.
#   scripts/deps.sh build   headers and libraries to compile (default)
#   scripts/deps.sh test    + programs the tests run under the shim
#   scripts/deps.sh bench   + the allocators and tools we compare against
# As root it uses apt-get; otherwise it names the packages to install.
set -eu
mode=${1:-build}

pkgs_build="gcc make pkg-config libunwind-dev libdw-dev libelf-dev check"
pkgs_test="python3 perl sqlite3 git gzip valgrind binutils g++ chromium cmake meson ninja-build"
pkgs_bench="libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 heaptrack valgrind clang libclang-rt-14-dev"

want=$pkgs_build
case "$mode" in
  build) ;;
  test)  want="$want $pkgs_test" ;;
  bench) want="$want $pkgs_test $pkgs_bench" ;;
  *) echo "deps.sh: unknown mode '$mode' (build, test or bench)" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "heapscope needs these Debian packages:$missing" >&2
  echo "install them with: sudo apt-get install$missing" >&2
  exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
