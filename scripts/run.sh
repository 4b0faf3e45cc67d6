#!/usr/bin/env bash
# `make run`: starts the service in the foreground, logs to the terminal; Ctrl-C stops it all.
# The orchestrator on :6000 with spawned agents once it exists; until then the agent on :8001.
# Agents require the shared secret (X-Sandpit-Token): unless one is configured
# (SANDPIT_AGENT_TOKEN, SANDPIT_AGENT_TOKEN_FILE or --agent-token*), a fresh one is written for
# this run to $SANDPIT_STATE_DIR/agent-token (mode 0600) and handed over as a file.
set -euo pipefail
cd "$(dirname "$0")/.."
state="${SANDPIT_STATE_DIR:-/tmp/sandpit-state}"
token_args=()
if [ -z "${SANDPIT_AGENT_TOKEN:-}${SANDPIT_AGENT_TOKEN_FILE:-}" ] && [[ " $* " != *" --agent-token"* ]]; then
  mkdir -p "$state"
  chmod 0700 "$state"
  umask 077
  rm -f "$state/agent-token"
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$state/agent-token"
  echo "sandpit: agent token for this run in $state/agent-token (send it as X-Sandpit-Token)" >&2
  token_args=(--agent-token-file "$state/agent-token")
fi
if [ -x build/sandpit-orchestrator ]; then
  exec build/sandpit-orchestrator --port "${SANDPIT_PORT:-6000}" "${token_args[@]}" "$@"
fi
exec build/sandpit-agent --port "${SANDPIT_PORT:-8001}" "${token_args[@]}" "$@"
