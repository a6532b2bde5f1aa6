# Shared by scripts/demo and scripts/bench: a throw-away network namespace
# that plays the host, and a real OpenBao on its loopback started with the
# listener `vaultnet init` wrote, initialised and unsealed for real.
# Callers set: ns, host_ip, work; they get: in_ns, pids, cleanup.

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}" $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
in_ns() { ip netns exec "$ns" "$@"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# host_ns_up: the namespace, loopback up, the host IP on a veth.
host_ns_up() {
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  in_ns ip link set lo up
  in_ns ip link add vn-h0 type veth peer name vn-h1
  in_ns ip addr add "$host_ip/24" dev vn-h0
  in_ns ip link set vn-h0 up
  in_ns ip link set vn-h1 up
}

# openbao_up STATE [BASE_HCL]: starts OpenBao with STATE/vault/listener.json
# and BASE_HCL (default: in-memory storage), initialises and unseals it; the
# root token lands in $work/token (0600), and as a curl header file in
# $work/token-header (0600). Its pid is $bao_pid.
openbao_up() {
  local state=$1 base=${2:-$work/base.hcl}
  if [ -z "${2:-}" ]; then
    cat > "$base" <<HCL
storage "inmem" {}
api_addr = "https://127.0.0.1:8200"
HCL
  fi
  ip netns exec "$ns" "$bao" server -config "$base" -config "$state/vault/listener.json" >>"$work/bao.log" 2>&1 &
  bao_pid=$!
  pids+=("$bao_pid")
  tls=(--cacert "$state/pki/ca.pem" --cert "$state/operator/client.pem" --key "$state/operator/client-key.pem")
  for _ in $(seq 50); do in_ns curl -s -o /dev/null "${tls[@]}" https://127.0.0.1:8200/v1/sys/health && break; sleep 0.2; done
  local init key
  init=$(in_ns curl -sf "${tls[@]}" -X PUT -d '{"secret_shares":1,"secret_threshold":1}' https://127.0.0.1:8200/v1/sys/init)
  key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0])' <<<"$init")
  ( umask 077; python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])' <<<"$init" > "$work/token" )
  # Secrets go to curl on stdin or in 0600 files, never in its argv.
  printf '{"key":"%s"}' "$key" | in_ns curl -sf "${tls[@]}" -X PUT -d @- https://127.0.0.1:8200/v1/sys/unseal >/dev/null
  ( umask 077; printf 'X-Vault-Token: %s\n' "$(cat "$work/token")" > "$work/token-header" )
  # Raft storage takes a few seconds to elect itself active.
  for _ in $(seq 100); do [ "$(in_ns curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" https://127.0.0.1:8200/v1/sys/health)" = 200 ] && break; sleep 0.2; done
}

# openbao_down: stops the OpenBao openbao_up started, and waits for it.
openbao_down() {
  kill "$bao_pid" 2>/dev/null || true
  wait "$bao_pid" 2>/dev/null || true
}
