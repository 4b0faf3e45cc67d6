#!/usr/bin/env bash
# `make run`: starts the service in the foreground, logs to the terminal; Ctrl-C stops it all.
# The orchestrator on :6000 with spawned agents once it exists; until then the agent on :8001.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x build/sandpit-orchestrator ]; then
  exec build/sandpit-orchestrator --port "${SANDPIT_PORT:-6000}" "$@"
fi
exec build/sandpit-agent --port "${SANDPIT_PORT:-8001}" "$@"
