#!/usr/bin/env bash
# Kill a node with SIGKILL and start it again, KILLS times, one every INTERVAL seconds, cycling
# over the given ports. Meant to run next to `loadtest chat` (whose books must still close with
# 0 lost). Each node is restarted with exactly the command line and environment it had.
#
#   loadtest/scripts/kill-nodes.sh 8090,8091,8092 10 5
set -euo pipefail
ports=${1:?comma-separated ports of the nodes}
kills=${2:-10}
interval=${3:-5}
IFS=, read -r -a list <<< "$ports"
for ((i = 0; i < kills; i++)); do
  sleep "$interval"
  port=${list[$((i % ${#list[@]}))]}
  pid=$(pgrep -f "serve.*--addr 127.0.0.1:${port}" | head -n1 || true)
  if [[ -z "$pid" ]]; then
    echo "kill-nodes: no node on port $port" >&2
    continue
  fi
  mapfile -d '' cmd < "/proc/$pid/cmdline"
  mapfile -d '' envs < "/proc/$pid/environ"
  cwd=$(readlink "/proc/$pid/cwd")
  kill -9 "$pid"
  echo "kill-nodes: $(date +%T) killed node $port (pid $pid)" >&2
  sleep 1
  (cd "$cwd" && env -i "${envs[@]}" "${cmd[@]}" > "/tmp/kill-nodes-$port.log" 2>&1 &)
done
echo "kill-nodes: done, $kills kills" >&2
