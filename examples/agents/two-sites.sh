#!/usr/bin/env bash
# The two-site demo of docs/agents.md, start to end: a control plane, a Slurm site and a Ray
# site, each served by its own agent process; one job to each; logs and usage from the CLI.
# Needs the engines up first (examples/agents/start_engines.py, which writes engines.env).
set -euo pipefail
cd "$(dirname "$0")/../.."
SR=.venv/bin/silkroute
ENGINES=${ENGINES:-out/engines}
DATA=${DATA:-out/two-sites}
PORT=${PORT:-8090}
source "$ENGINES/engines.env"
rm -rf "$DATA" && mkdir -p "$DATA"
export SILKROUTE_URL=http://127.0.0.1:$PORT

ADMIN=$($SR admin init --data-dir "$DATA/server" | grep -o 'sr_[A-Za-z0-9_-]*')
$SR server --data-dir "$DATA/server" --port "$PORT" --agent-timeout 10 >"$DATA/server.log" 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
until curl -sf "$SILKROUTE_URL/healthz" >/dev/null; do sleep 0.2; done

export SILKROUTE_TOKEN=$ADMIN
$SR site add examples/agents/site-slurm.yaml
$SR site add examples/agents/site-ray.yaml
SLURM_AGENT=$($SR agent-token kunming-slurm)
RAY_AGENT=$($SR agent-token penang-ray)
$SR agent --site kunming-slurm --backend slurm --token "$SLURM_AGENT" \
  --work-dir "$DATA/agent-slurm" >"$DATA/agent-slurm.log" 2>&1 &
$SR agent --site penang-ray --backend ray --ray-address "$RAY_ADDRESS" --ray-python "$RAY_PYTHON" \
  --token "$RAY_AGENT" --work-dir "$DATA/agent-ray" >"$DATA/agent-ray.log" 2>&1 &
TENANT=$($SR tenant create um-nlp --country MY | grep -o 'sr_[A-Za-z0-9_-]*')
until curl -sf -H "Authorization: Bearer $ADMIN" "$SILKROUTE_URL/v1/agents" | grep -q '"state":"up".*"state":"up"'; do sleep 0.2; done
curl -s -H "Authorization: Bearer $ADMIN" "$SILKROUTE_URL/v1/agents" | .venv/bin/python -m json.tool | grep -E '"(site|state|backend)"'

export SILKROUTE_TOKEN=$TENANT
$SR submit examples/agents/job-slurm.yaml
$SR submit examples/agents/job-ray.yaml
for job in 1 2; do
  until $SR job "$job" --json | grep -qE '"state": "(succeeded|failed|cancelled)"'; do sleep 0.5; done
done
$SR jobs
echo "--- silkroute logs 1"; $SR logs 1
echo "--- silkroute logs 2"; $SR logs 2
$SR usage
