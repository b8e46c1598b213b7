#!/usr/bin/env bash
# Makes a Debian package of nca with CPack from the build in $NCA_BUILD_DIR (default build/; built
# first by scripts/build.sh when needed): nca in /usr/bin, the shipped models, images and presets
# in /usr/share/nca, its dependencies on Debian's packages declared (dpkg-shlibdeps).
#   scripts/package.sh            writes build/nca_VERSION_ARCH.deb and says where
#   scripts/package.sh --check    also installs it with apt-get (root), runs `nca grow` and
#                                 `nca regen` from an empty folder with the shipped models, and
#                                 removes it again (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
for arg in "$@"; do
  case $arg in
    --check) check=true ;;
    *) echo "package.sh: unknown option '$arg' (--check)" >&2; exit 2 ;;
  esac
done
build=${NCA_BUILD_DIR:-build}
NCA_BUILD_TARGET=nca scripts/build.sh >/dev/null
# The package holds what `cmake --install` installs, with /usr as its prefix.
(cd "$build" && cpack -G DEB -D CPACK_PACKAGING_INSTALL_PREFIX=/usr >/dev/null)
deb=$(ls -t "$build"/nca_*.deb | head -n 1)
echo "package.sh: $deb ($(du -h "$deb" | cut -f1)); depends on: $(dpkg-deb -f "$deb" Depends)"
$check || exit 0

[[ $(id -u) -eq 0 ]] || { echo "package.sh: --check installs the package: run it as root" >&2; exit 1; }
if dpkg-query -W -f='${Status}' nca 2>/dev/null | grep -q "install ok installed"; then
  echo "package.sh: a package named nca is installed already: not touching it" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$(realpath "$deb")" >/dev/null
trap 'apt-get remove -y -qq nca >/dev/null' EXIT
dir=$(mktemp -d)
(
  cd "$dir"
  command -v nca
  nca --version
  nca grow --steps 30 --every 10 --out grown 2>grow.log
  grep -q "/usr/share/nca/data/models/lizard-persistent.pt" grow.log ||
    { cat grow.log; echo "package.sh: grow did not run the installed model" >&2; exit 1; }
  ls grown/frame_00030.png grown/growth.gif >/dev/null
  nca regen --cut half --at 40 --steps 20 --out healed 2>/dev/null | tail -n 1
)
rm -rf "$dir"
echo "package.sh: the package installs, and nca grow and regen run from it with its own models"
