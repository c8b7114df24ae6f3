#!/usr/bin/env bash
# Installs the competitor gateways for bench/compare/run.py into throwaway
# environments OUTSIDE the project venv. Versions are pinned on purpose.
# NEVER use litellm 1.82.7 / 1.82.8 (compromised releases).
set -euo pipefail
# 1.110.x's [proxy] extra needs `litellm-proxy`, and 1.108/1.109 need litellm-proxy-extras
# releases that the package index reachable from the dev machine does not carry; 1.106.12 is the
# newest whose [proxy] extra resolves there. Override with LITELLM_VERSION=... where it does.
LITELLM_VERSION="${LITELLM_VERSION:-1.106.12}"
PORTKEY_VERSION="${PORTKEY_VERSION:-1.15.2}"
LITELLM_VENV="${LITELLM_VENV:-/tmp/litellm-venv}"
PORTKEY_DIR="${PORTKEY_DIR:-/tmp/portkey}"

case "$LITELLM_VERSION" in
  1.82.7|1.82.8) echo "refusing compromised litellm $LITELLM_VERSION" >&2; exit 1;;
esac

[ -x "$LITELLM_VENV/bin/python" ] || python3 -m venv "$LITELLM_VENV"
"$LITELLM_VENV/bin/pip" install -q --upgrade pip
"$LITELLM_VENV/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION"
# litellm[proxy] brings uvicorn without httptools, so uvicorn falls back to the pure-Python h11
# parser (py-spy on the proxy: run_asgi in h11_impl.py). uvicorn[standard] would add it; we add
# just the parser, at the version crossroads itself runs on, so both sit on the same HTTP stack.
"$LITELLM_VENV/bin/pip" install -q "httptools==0.9.0"
"$LITELLM_VENV/bin/python" -c 'import importlib.metadata as m; print("litellm", m.version("litellm"))'

mkdir -p "$PORTKEY_DIR"
cd "$PORTKEY_DIR"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact "@portkey-ai/gateway@$PORTKEY_VERSION"
node -e 'console.log("portkey", require("@portkey-ai/gateway/package.json").version)' || \
  node -p 'require("./node_modules/@portkey-ai/gateway/package.json").version'
