#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (a test peer only, never a runtime dependency) from
# the llama.cpp sources vendored in the llama-cpp-python sdist, once, and caches it.
# Only the llama-server target, with -j2: the machine has two cores.
# Prints the binary's path.
set -euo pipefail
VERSION="${LLAMA_CPP_PYTHON_VERSION:-$(python -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))')}"
CACHE="${CONVO_LLAMA_SERVER_CACHE:-$HOME/.cache/convo-test/llama-server}"
BIN="$CACHE/$VERSION/bin/llama-server"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
mkdir -p "$CACHE/src"
SDIST="$CACHE/src/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
  pip download "llama-cpp-python==$VERSION" --no-binary :all: --no-deps -d "$CACHE/src" >&2
fi
SRC="$CACHE/src/llama_cpp_python-$VERSION/vendor/llama.cpp"
[ -d "$SRC" ] || tar xzf "$SDIST" -C "$CACHE/src"
BUILD="$CACHE/build-$VERSION"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_AVX512=OFF -DGGML_OPENMP=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$BUILD" --target llama-server -j2 >&2
mkdir -p "$(dirname "$BIN")"
cp "$BUILD/bin/llama-server" "$BIN"
echo "$BIN"
