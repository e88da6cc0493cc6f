#!/usr/bin/env bash
# The emulated WAN link of Ferry's benchmark: two network namespaces joined by a veth pair.
#   bnA 10.77.0.1 <-> bnB 10.77.0.2, RATE (tbf) on each veth egress, DELAY_MS each way and LOSS
#   per direction on ingress (this kernel has no sch_netem, so ./netdelay, an NFQUEUE program,
#   holds and drops packets). Default sysctls: the namespaces inherit the host's (bbr, 4 MiB wmem max).
# usage: bench/wan.sh up|down|status
# env:   WAN_STATE_DIR (netdelay binary, PIDs, logs; default ${TMPDIR:-/tmp}/ferry-bench-wan)
#        DELAY_MS=25 LOSS=0.001 RATE=1gbit NSA=bnA NSB=bnB
# Only the two namespace addresses are used; `down` kills only the PIDs that `up` recorded.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${WAN_STATE_DIR:-${TMPDIR:-/tmp}/ferry-bench-wan}
DELAY=${DELAY_MS:-25}; LOSS=${LOSS:-0.001}; RATE=${RATE:-1gbit}
NSA=${NSA:-bnA}; NSB=${NSB:-bnB}; IPA=10.77.0.1; IPB=10.77.0.2
PIDS="$STATE/netdelay.pids"

log() { printf '[wan %s] %s\n' "$(date +%T)" "$*" >&2; }

wan_down() {
  local p
  if [ -f "$PIDS" ]; then
    # only PIDs that are still our netdelay (a stale file may name PIDs reused since)
    for p in $(cat "$PIDS"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = netdelay ] && kill "$p" 2>/dev/null; done
    for p in $(cat "$PIDS"); do for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
    rm -f "$PIDS"
  fi
  ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
  rm -rf "/etc/netns/$NSA" "/etc/netns/$NSB"
  return 0
}

# bytes of queue for one bandwidth-delay product of RATE at 2*DELAY (at least 200 kB)
bdp_bytes() {
  awk -v r="$RATE" -v d="$DELAY" 'BEGIN{
    n = r; sub(/bit$/, "", n); m = 1
    if (n ~ /[kK]$/) m = 1e3; else if (n ~ /[mM]$/) m = 1e6; else if (n ~ /[gG]$/) m = 1e9
    sub(/[kKmMgG]$/, "", n); b = n * m / 8 * 2 * d / 1000
    if (b < 200000) b = 200000; printf "%d\n", b }'
}

wan_up() {
  mkdir -p "$STATE"
  local nd="$STATE/netdelay"
  if [ ! -x "$nd" ] || [ "$HERE/netdelay.c" -nt "$nd" ]; then
    gcc -O2 -o "$nd" "$HERE/netdelay.c" -lnetfilter_queue -lnfnetlink || { log "cannot build netdelay (needs gcc and libnetfilter-queue-dev)"; return 1; }
  fi
  if ip netns list | grep -qE "^($NSA|$NSB)( |$)" || [ -f "$PIDS" ]; then log "namespaces or netdelay of an earlier run are left; removing them first"; wan_down; fi
  ip netns add "$NSA" && ip netns add "$NSB" || return 1
  # GridFTP reverse-resolves its own address; `ip netns exec` bind-mounts /etc/netns/NS/hosts.
  local ns me dev
  for ns in "$NSA" "$NSB"; do
    mkdir -p "/etc/netns/$ns"; me=$IPA; [ "$ns" = "$NSB" ] && me=$IPB
    printf '127.0.0.1 localhost\n%s %s\n%s wan-a\n%s wan-b\n' "$me" "$(hostname)" $IPA $IPB > "/etc/netns/$ns/hosts"
  done
  ip link add wA netns "$NSA" type veth peer name wB netns "$NSB" || return 1
  ip -n "$NSA" addr add $IPA/24 dev wA; ip -n "$NSB" addr add $IPB/24 dev wB
  local lim; lim=$(bdp_bytes)
  for ns in "$NSA" "$NSB"; do
    dev=wA; [ "$ns" = "$NSB" ] && dev=wB
    ip -n "$ns" link set lo up; ip -n "$ns" link set "$dev" up
    ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$RATE" burst 256kb limit "$lim" || return 1
    if [ "$DELAY" != 0 ] || [ "$LOSS" != 0 ]; then
      ip netns exec "$ns" iptables -t mangle -A PREROUTING -i "$dev" -j NFQUEUE --queue-num 0 || return 1
      ip netns exec "$ns" "$nd" 0 "$DELAY" "$LOSS" > "$STATE/netdelay-$ns.log" 2>&1 &
      echo $! >> "$PIDS"
    fi
  done
  sleep 0.5
  for p in $(cat "$PIDS" 2>/dev/null); do kill -0 "$p" 2>/dev/null || { log "netdelay $p died: $(cat "$STATE"/netdelay-*.log)"; return 1; }; done
  log "link up: $NSA($IPA) <-> $NSB($IPB): tbf $RATE, +${DELAY} ms each way (RTT $((2*DELAY)) ms), loss $LOSS per direction;" \
      "cc=$(ip netns exec "$NSA" cat /proc/sys/net/ipv4/tcp_congestion_control)" \
      "wmem_max=$(ip netns exec "$NSA" cat /proc/sys/net/ipv4/tcp_wmem | awk '{print $3}')" \
      "rmem_max=$(ip netns exec "$NSA" cat /proc/sys/net/ipv4/tcp_rmem | awk '{print $3}')"
}

case ${1:-} in
  up) wan_up || { wan_down; exit 1; } ;;
  down) wan_down ;;
  status) ip netns list | grep -E "^($NSA|$NSB)( |$)" || echo "no bench namespaces"; [ -f "$PIDS" ] && echo "netdelay pids: $(tr '\n' ' ' < "$PIDS")" ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
