# Shared by tools/run and tools/test: packages, build, the embedded PostGIS. Source it from the
# repository root.

WANGGE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${WANGGE_BUILD_DIR:-$WANGGE_ROOT/build}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages the build, the server and the tests need.
WANGGE_PACKAGES=(
  build-essential cmake pkg-config
  libpq-dev libpistache-dev nlohmann-json3-dev libssl-dev libsodium-dev
  libgeos-dev libgdal-dev gdal-bin libproj-dev libboost-dev libprotozero-dev libminizip-dev
  libgtest-dev libfreetype-dev zlib1g-dev libdeflate-dev fonts-dejavu-core fonts-droid-fallback
  libosmium2-dev libexpat1-dev libbz2-dev liblz4-dev
  postgresql postgresql-15-postgis-3 postgresql-15-pgrouting postgresql-client
  python3 iproute2 curl
  etcd-server patroni nginx python3-prometheus-client
  python3-qgis python3-owslib
)

ensure_packages() {
  local missing=()
  local p
  for p in "${WANGGE_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}) and no sudo; install them with apt"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # The Debian postgresql package would start a cluster of its own; we run ours under var/.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_wangge [TARGET...]: builds the given targets (default: everything, tests included).
# tools/run builds only the `wangge` executable: on a fresh machine the tests are most of the
# compile time, and serving does not need them.
build_wangge() {
  # tools/test builds once and then runs tests, one of which starts tools/run: rebuilding there
  # would swap the binary under the tests running beside it (and pick up a half-saved edit).
  if [ "${WANGGE_BUILT_BY_TEST:-}" = 1 ]; then
    say "using the build tools/test made ($BUILD_DIR)"
    return 0
  fi
  local targets=()
  local t
  for t in "$@"; do targets+=(--target "$t"); done
  say "building ${*:-everything} (cmake, -j2)"
  # ccache, when a developer has it, lets several checkouts (git worktrees) share compiled objects;
  # the build does not need it.
  local launcher=()
  if command -v ccache >/dev/null; then
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$WANGGE_ROOT")}
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$WANGGE_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
  cmake --build "$BUILD_DIR" -j2 "${targets[@]}"
  install_web
}

# The map page's JavaScript comes from npm at build time and is served by wangge itself from
# build/web/ (no CDN). Reinstalled only when tiles/web/package.json changes.
install_web() {
  local npm_dir="$BUILD_DIR/npm" web="$BUILD_DIR/web"
  if ! command -v npm >/dev/null; then
    say "installing Node.js and npm (apt) for the map page"
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  mkdir -p "$npm_dir" "$web"
  if ! cmp -s "$WANGGE_ROOT/tiles/web/package.json" "$npm_dir/package.json" || [ ! -f "$npm_dir/node_modules/maplibre-gl/dist/maplibre-gl.js" ]; then
    say "installing the map library from npm"
    cp "$WANGGE_ROOT/tiles/web/package.json" "$npm_dir/package.json"
    (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  cp "$npm_dir/node_modules/maplibre-gl/dist/maplibre-gl.js" "$npm_dir/node_modules/maplibre-gl/dist/maplibre-gl.css" "$web/"
  # The console's modules and the libraries they import (terra-draw) in one file; esbuild finds
  # the packages through NODE_PATH. MapLibre is not in it: the console's page loads
  # maplibre-gl.js (above) beside it, so the browser compiles the two files side by side and the
  # map's worker starts before the console's code is evaluated.
  NODE_PATH="$npm_dir/node_modules" "$npm_dir/node_modules/.bin/esbuild" "$WANGGE_ROOT/tiles/console/main.js" \
    --bundle --minify --format=iife --target=es2020 --log-level=warning --outfile="$web/console.js"
  # The statistics page's chart library, loaded only when that page is opened.
  NODE_PATH="$npm_dir/node_modules" "$npm_dir/node_modules/.bin/esbuild" "$WANGGE_ROOT/tiles/console/charts.js" \
    --bundle --minify --format=iife --target=es2020 --log-level=warning --outfile="$web/console-charts.js"
  cp "$WANGGE_ROOT/tiles/console/console.css" "$web/console.css"
}

# bench_token URL ROLE NAME [BIN]: a new API token for a benchmark run, printed. Earlier runs'
# tokens of the same name are deleted first, so the shared bench database does not collect one
# token per run.
bench_token() {
  local url=$1 role=$2 name=$3 bin=${4:-$BUILD_DIR/wangge}
  psql -X -q "$url" -c "DELETE FROM api_tokens WHERE name = '$name'" >/dev/null
  WANGGE_DATABASE_URL=$url "$bin" token create --role "$role" --name "$name"
}
