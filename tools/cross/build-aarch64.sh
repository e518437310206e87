#!/usr/bin/env bash
# Cross-builds baton for 64-bit ARM Linux (phones, tablets, Raspberry Pi) as one static
# executable, plus the aarch64 tensor and model test suites and the kernel benchmarks.
#
#   tools/cross/build-aarch64.sh [BUILD_DIR]     (default: build-aarch64/)
#
# Needs Debian's cross toolchain and the arm64 -dev packages; `./setup.sh --aarch64`
# installs them and runs this script. Libraries Debian ships for arm64 without a static
# archive that baton can link (spdlog, fmt and cpp-httplib are shared-only; libzmq.a
# needs GSSAPI, which has no static archive) are built here from Debian's own source
# packages into BUILD_DIR/deps/prefix, once: a rerun only rebuilds baton.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="$(realpath -m "${1:-$ROOT/build-aarch64}")"
DEPS="$BUILD_DIR/deps"
PREFIX="$DEPS/prefix"
SRC="$DEPS/src"
JOBS="${BATON_JOBS:-2}"
TOOLCHAIN="$ROOT/cmake/aarch64-linux-gnu.cmake"
TRIPLE=aarch64-linux-gnu

die() { echo "build-aarch64: $*" >&2; exit 1; }
step() { echo "build-aarch64: $*"; }

for tool in "$TRIPLE-g++" cmake pkg-config dpkg-source apt-get; do
  command -v "$tool" >/dev/null || die "$tool not found; run ./setup.sh --aarch64 to install the cross toolchain"
done
[ -f "/usr/lib/$TRIPLE/libcapnp.a" ] ||
  die "arm64 libraries missing (/usr/lib/$TRIPLE/libcapnp.a); run ./setup.sh --aarch64"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# pkg-config sees only the target's .pc files: ours first, then Debian's arm64 ones.
export PKG_CONFIG_LIBDIR="$PREFIX/lib/pkgconfig:$PREFIX/share/pkgconfig:/usr/lib/$TRIPLE/pkgconfig:/usr/share/pkgconfig"
export PKG_CONFIG_PATH=""

# Fetches Debian source package $1 into $SRC (once) and prints its directory.
debian_source() {
  local pkg="$1" dir
  dir="$(find "$SRC" -maxdepth 1 -type d -name "$pkg-[0-9]*" 2>/dev/null | sort | tail -n 1)"
  if [ -z "$dir" ]; then
    mkdir -p "$SRC"
    (cd "$SRC" && apt-get source -q "$pkg" >&2) ||
      die "apt-get source $pkg failed; deb-src entries are needed (./setup.sh --aarch64 adds them)"
    dir="$(find "$SRC" -maxdepth 1 -type d -name "$pkg-[0-9]*" | sort | tail -n 1)"
  fi
  [ -n "$dir" ] || die "no source directory for $pkg under $SRC"
  echo "$dir"
}

# Builds Debian source package $1 with CMake for aarch64 into $PREFIX, once per version.
build_dependency() {
  local pkg="$1"; shift
  local dir; dir="$(debian_source "$pkg")"
  local stamp="$PREFIX/.built-$(basename "$dir")"
  if [ -f "$stamp" ]; then
    step "$(basename "$dir") already built"
    return
  fi
  step "building $(basename "$dir") from Debian's source package"
  cmake -S "$dir" -B "$DEPS/build/$pkg" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_PREFIX_PATH="$PREFIX" -DBUILD_SHARED_LIBS=OFF \
    "${launcher[@]}" "$@" >"$DEPS/build-$pkg.log" 2>&1 || die "configuring $pkg failed; see $DEPS/build-$pkg.log"
  cmake --build "$DEPS/build/$pkg" -j"$JOBS" >>"$DEPS/build-$pkg.log" 2>&1 ||
    die "building $pkg failed; see $DEPS/build-$pkg.log"
  cmake --install "$DEPS/build/$pkg" >>"$DEPS/build-$pkg.log" 2>&1 || die "installing $pkg failed; see $DEPS/build-$pkg.log"
  touch "$stamp"
}

mkdir -p "$PREFIX"
build_dependency fmtlib -DFMT_DOC=OFF -DFMT_TEST=OFF
build_dependency spdlog -DSPDLOG_FMT_EXTERNAL=ON -DSPDLOG_BUILD_EXAMPLE=OFF -DSPDLOG_BUILD_TESTS=OFF \
  -DSPDLOG_BUILD_SHARED=OFF
# ZeroMQ without the transports and security mechanisms baton does not use, so nothing
# needs GSSAPI, OpenPGM, NORM or libsodium.
build_dependency zeromq3 -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF -DWITH_PERF_TOOL=OFF -DWITH_DOCS=OFF \
  -DWITH_LIBSODIUM=OFF -DENABLE_CURVE=OFF -DWITH_OPENPGM=OFF -DWITH_NORM=OFF -DWITH_VMCI=OFF -DWITH_LIBBSD=OFF \
  -DENABLE_DRAFTS=OFF -DENABLE_WS=OFF
# cpp-httplib compiled (Debian's header declares only) with OpenSSL, as the host build.
build_dependency cpp-httplib -DHTTPLIB_COMPILE=ON -DHTTPLIB_REQUIRE_OPENSSL=ON -DHTTPLIB_USE_ZLIB_IF_AVAILABLE=OFF \
  -DHTTPLIB_USE_BROTLI_IF_AVAILABLE=OFF -DHTTPLIB_INSTALL=ON
# The project finds cpp-httplib through pkg-config, as Debian ships it; the source build
# installs the archive as libhttplib.a and no .pc file. Written every run, so that a
# prefix from an older version of this script gets the current one.
mkdir -p "$PREFIX/lib/pkgconfig"
[ -f "$PREFIX/lib/libhttplib.a" ] || die "cpp-httplib's build left no $PREFIX/lib/libhttplib.a"
cat >"$PREFIX/lib/pkgconfig/cpp-httplib.pc" <<PC
prefix=$PREFIX
includedir=\${prefix}/include
libdir=\${prefix}/lib
Name: cpp-httplib
Description: A C++ HTTP/HTTPS server and client library (static, aarch64)
Version: $(sed -n 's/^#define CPPHTTPLIB_VERSION "\(.*\)"/\1/p' "$PREFIX/include/httplib.h")
Requires: openssl
Libs: -L\${libdir} -lhttplib
Cflags: -I\${includedir} -DCPPHTTPLIB_OPENSSL_SUPPORT
PC

# Cap'n Proto's CMake config prefers the shared libraries; point it at the archives.
capnp_archives=()
for lib in capnp capnp-rpc capnp-json capnp-websocket capnpc kj kj-async kj-gzip kj-http kj-test kj-tls; do
  capnp_archives+=("-DCapnProto_${lib}_IMPORTED_LOCATION=/usr/lib/$TRIPLE/lib$lib.a")
done

# A cache from before static archives and the target's pkg-config files were enforced
# may hold shared or host libraries it found.
if grep -qE '^pkgcfg_lib_[^=]*=.*(\.so|/x86_64-linux-gnu/.*)$' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  step "the CMake cache in $BUILD_DIR names shared or host libraries; configuring afresh"
  rm -f "$BUILD_DIR/CMakeCache.txt"
fi
step "configuring baton in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIX" "${capnp_archives[@]}" "${launcher[@]}" >"$BUILD_DIR/configure.log" 2>&1 ||
  { tail -n 30 "$BUILD_DIR/configure.log" >&2; die "configuring baton failed; see $BUILD_DIR/configure.log"; }

# The test suites and kernel tools first, so that they exist for ctest even if a later
# target fails; then baton itself.
targets=(baton_kernel_bench baton_kernel_calls baton_kernel_digest)
for dir in tensor model; do
  while IFS= read -r src; do targets+=("${dir}_$(basename "$src" .cpp)"); done \
    < <(find "$ROOT/tests/$dir" -maxdepth 1 -name '*_test.cpp' | sort)
done
step "building ${targets[*]}"
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${targets[@]}"
step "building baton"
cmake --build "$BUILD_DIR" -j"$JOBS" --target baton
# The point of this build is one file that runs without any library installed: a
# program interpreter or a needed shared library would make it fail on a phone.
dynamic="$("$TRIPLE-readelf" -l -d "$BUILD_DIR/baton" | grep -E 'Requesting program interpreter|\(NEEDED\)' || true)"
[ -z "$dynamic" ] || die "$BUILD_DIR/baton is not statically linked:
$dynamic
check which library CMake found as a shared object in $BUILD_DIR/CMakeCache.txt (pkgcfg_lib_*)"
step "done: $BUILD_DIR/baton (static, $(du -h "$BUILD_DIR/baton" | cut -f1))"
