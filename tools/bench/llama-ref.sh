# Sourced by the scripts that run llama.cpp as a reference (tools/bench/against-llama-cpp.sh,
# tools/reference/make-arch-references.sh): installs the npm package node-llama-cpp, with
# its prebuilt linux-x64 llama.cpp, into a local folder once.

# ensure_llama_ref DIR VERSION: checks for node and installs node-llama-cpp@VERSION into DIR
# if it is not there yet.
ensure_llama_ref() {
  local ref_dir="$1" version="$2"
  command -v node >/dev/null || { echo "node is needed (apt-get install nodejs npm)" >&2; exit 1; }
  [[ -d "$ref_dir/node_modules/node-llama-cpp" ]] && return 0
  echo "installing node-llama-cpp $version into $ref_dir (once; a few minutes)" >&2
  mkdir -p "$ref_dir"
  [[ -f "$ref_dir/package.json" ]] || echo '{"private": true}' > "$ref_dir/package.json"
  # SKIP_DOWNLOAD: use the prebuilt binaries, never fetch llama.cpp sources to build.
  (cd "$ref_dir" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --loglevel=error \
      "node-llama-cpp@$version" >&2)
}
