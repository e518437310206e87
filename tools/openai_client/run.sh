#!/usr/bin/env bash
# Drives a coordinator's HTTP API with the official OpenAI Node client, case by case, as a
# new user's program would, and prints what each case got. The client is installed from
# npm into build/openai-client/ on first use (a test-time reference, never shipped).
#
#   tools/openai_client/run.sh http://127.0.0.1:8080 [API_KEY]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prefix="$root/build/openai-client"
if [ ! -d "$prefix/node_modules/openai" ]; then
  command -v npm >/dev/null || { echo "npm is needed: apt-get install npm" >&2; exit 2; }
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --silent openai@6 >&2
fi
NODE_PATH="$prefix/node_modules" exec node "$here/drive.mjs" "$@"
