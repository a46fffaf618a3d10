#!/usr/bin/env bash
# Schema-driven fuzzing of the REST API against a real server: schemathesis reads the server's
# own OpenAPI document and sends valid and invalid requests to every operation, as a merchant API
# key and as nobody. (Cookie sessions: schemathesis replaces a Cookie header with its own
# values for the `session` scheme, so those operations are reached with the API key where keys
# are allowed, and otherwise only their 401/403 answers are checked.) The run fails on any server error (5xx) and on any status the document does
# not list for that operation.
#
#   FLOORWALKER_BIN=target/debug/floorwalker testing/fuzz-api.sh [extra schemathesis args]
set -euo pipefail
bin="${FLOORWALKER_BIN:?set FLOORWALKER_BIN to a built floorwalker binary}"
command -v st >/dev/null || { echo "schemathesis (st) is not installed" >&2; exit 1; }
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
password="fuzz-demo-password-1"
env -u REDIS_URL DATABASE_URL="sqlite://$work/fw.db" FLOORWALKER_DEMO_PASSWORD="$password" \
  FLOORWALKER_LOGIN_PER_MINUTE=100000 RUST_LOG=warn "$bin" serve --demo --addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/readyz" >/dev/null || { echo "the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
# A merchant API key (Analytics, Exports, Stores, Saved replies, Shoppers accept keys).
jar="$work/cookies"
csrf="$(curl -fs -c "$jar" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@demo.example\",\"password\":\"$password\"}" "$base/api/v1/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')"
key="$(curl -fs -b "$jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
  -d '{"name":"fuzz"}' "$base/api/v1/api-keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
run() {
  st run "$base/api/openapi.json" --url "$base" \
    --checks not_a_server_error,status_code_conformance \
    --max-examples "${FUZZ_EXAMPLES:-15}" --workers 2 --seed 18 \
    --exclude-path-regex '^/api/v1/(auth/logout|app/logout|api-keys/\{key_id\})$' \
    --request-timeout 20 "$@"
}
echo "== as a merchant API key"
run -H "Authorization: Bearer $key" "$@"
echo "== as nobody"
run "$@"
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -A3 panicked "$work/server.log" >&2
  exit 1
fi
