#!/usr/bin/env bash
# Writes agent-token.env (mode 0600) next to docker-compose.yml: SANDPIT_AGENT_TOKEN, the
# orchestrator/agent shared secret the compose services read (docs/deploy.md). Keeps an
# existing one unless --force is given.
set -euo pipefail
cd "$(dirname "$0")/.."
out=agent-token.env
if [ -s "$out" ] && [ "${1:-}" != "--force" ]; then
  echo "$out exists (use --force to replace it)"
  exit 0
fi
umask 077
tmp=$(mktemp "$out.XXXXXX")
printf 'SANDPIT_AGENT_TOKEN=%s\n' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" > "$tmp"
mv -f "$tmp" "$out"
echo "wrote $out"
