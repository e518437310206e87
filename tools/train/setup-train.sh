#!/bin/sh
# Installs what tools/train/ needs to retrain the demo model (Debian/Ubuntu, as root).
# Not part of baton's set-up or CI.
set -eu
here=$(dirname "$0")
packages=$(grep -v '^#' "$here/requirements-debian.txt" | grep -v '^[[:space:]]*$')
apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
/usr/bin/python3 -c 'import torch, numpy, sentencepiece; print("torch", torch.__version__)'
