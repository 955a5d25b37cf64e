#!/usr/bin/env bash
# Whole-switch media load benchmark (issue 3, the media core), driven by SIPp.
#
# Builds Switchboard (release) and, for each level N of LEVELS, starts a
# fresh switch (the repository's configuration on other ports, recording
# on) and holds N concurrent bridged calls for HOLD_SECONDS: a SIPp UAC on
# the carrier trunk streams the speech of SIPp's g711a.pcap (PCMA, 20 ms
# packets, SIPp's rtp_stream, looped) on every call, and agent 1001 is a
# SIPp UAS with -rtp_echo that sends every packet back, so the switch
# relays both ways and records both channels of every call. (SIPp's
# play_pcap_audio is not used: it opens a raw UDP socket per call, and on
# loopback the kernel then copies every packet the switch sends into each
# of them, inside the switch's own send calls: that would be SIPp's cost
# counted as the switch's.)
#
# For each level it prints:
#   - packets, from the CDRs: received by the switch on the caller legs
#     (plus those the caller legs' sequence numbers say were lost: the
#     callers' sent), and on the agent legs (the echo); loss = 1 - received
#     / (2 x sent), so the echo path counts too;
#   - CPU: the switch's user+system time (from /proc/PID/stat, so SIPp's
#     own cost is excluded) divided by the packets it relayed;
#   - memory: the switch's anonymous resident memory (RssAnon: heap and
#     stacks) with the calls up minus before, divided by N (recording
#     included); the binary's code pages that the first calls fault in are
#     shared by all calls, not per call, so they are left out (the whole
#     resident growth, VmRSS, is printed beside it);
# The level passes when every call succeeded and loss < 0.1%; levels go
# up until the first failing one. The result line gives the highest N
# held and the figures at that level, against the targets (<= 5 us of CPU
# per relayed packet, <= 100 KB per call).
#
# Usage:  bash benches/media_load.sh
# Environment (defaults in brackets):
#   QUICK=1          short run: LEVELS "20 50", HOLD_SECONDS 15
#   LEVELS           concurrent calls to try, ascending ["50 100 200 300 400"]
#   HOLD_SECONDS     how long the N calls are held together [60]
#   RAMP_RATE        calls per second while they are set up [50]
#   MAX_LOSS_PPM     loss allowed, parts per million [1000 = 0.1%]
#   CARRIER_PORT [27080] AGENTS_PORT [27060] UAS_PORT [27070]
#   UAC_PORT [27090] MEDIA_PORT [28000] (SIPp media ports, steps of 100)
#   RTP_PORTS        the switch's [media] rtp_ports ["40000-49999"]
#   SWITCHBOARD_BIN  binary to run [$CARGO_TARGET_DIR or target, /release/switchboard]
#   SKIP_BUILD=1     do not run cargo build
#   KEEP=1           keep the work folder (logs, recordings, CDR JSON)
#   ENFORCE_TARGETS=1  exit 3 when a figure misses its target
# Exit: 0 when the measurements ran, 1 when the switch or a peer could not
# be started, 3 when a target was missed and ENFORCE_TARGETS=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scen="$root/benches/sipp"

QUICK="${QUICK:-0}"
if [[ "$QUICK" == 1 ]]; then
    LEVELS="${LEVELS:-20 50}"
    HOLD_SECONDS="${HOLD_SECONDS:-15}"
fi
LEVELS="${LEVELS:-50 100 200 300 400}"
HOLD_SECONDS="${HOLD_SECONDS:-60}"
RAMP_RATE="${RAMP_RATE:-50}"
MAX_LOSS_PPM="${MAX_LOSS_PPM:-1000}"
CARRIER_PORT="${CARRIER_PORT:-27080}"
AGENTS_PORT="${AGENTS_PORT:-27060}"
UAS_PORT="${UAS_PORT:-27070}"
UAC_PORT="${UAC_PORT:-27090}"
MEDIA_PORT="${MEDIA_PORT:-28000}"
RTP_PORTS="${RTP_PORTS:-40000-49999}"
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-}"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP="${KEEP:-0}"
ENFORCE_TARGETS="${ENFORCE_TARGETS:-0}"

CPU_TARGET_NS=5000
MEM_TARGET_KB=100
PCAP=/usr/share/sip-tester/g711a.pcap
AGENT=1001
LO=127.0.0.1
SIPP_COMMON=(-nostdin -i "$LO" -mi "$LO")

log() { printf '[media_load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in HOLD_SECONDS RAMP_RATE MAX_LOSS_PPM CARRIER_PORT AGENTS_PORT UAS_PORT UAC_PORT MEDIA_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done
for n in $LEVELS; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "LEVELS must be positive integers (got '$n')"
done
command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester; bash scripts/install-deps.sh)"
command -v python3 >/dev/null || die "python3 not found (it reads the CDRs)"
[[ -f "$PCAP" ]] || die "$PCAP not found (Debian package sip-tester)"
[[ -f "$scen/register_users.xml" ]] || die "missing scenario $scen/register_users.xml"

work="$(mktemp -d "${TMPDIR:-/tmp}/media_load.XXXXXX")"
log "work folder: $work"

# shellcheck source=benches/lib.sh
source "$root/benches/lib.sh"

install_cleanup
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-$(release_bin)}"

# ------------------------------------------------------------- scenarios
# The speech of g711a.pcap as raw A-law, for SIPp's rtp_stream.
speech="$work/speech.al"
python3 - "$PCAP" "$speech" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
off, out = 24, bytearray()
while off + 16 <= len(data):
    incl = struct.unpack("<I", data[off + 8:off + 12])[0]
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    out += pkt[14 + 20 + 8 + 12:]  # Ethernet, IPv4, UDP, RTP headers
open(sys.argv[2], "wb").write(bytes(out))
EOF
uac="$work/uac_talk.xml"
{
    cat <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- Generated by benches/media_load.sh: a caller that talks (g711a.pcap in a loop). -->
<scenario name="media load caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:+15550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:carrier@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [rtpstream_audio_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
      a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      [routes]
      From: <sip:+15550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0
    ]]>
  </send>
EOF
    printf '  <nop><action><exec rtp_stream="%s,-1,8,PCMA/8000"/></action></nop>\n' "$speech"
    printf '  <pause milliseconds="%d"/>\n' "$((HOLD_SECONDS * 1000))"
    # Stop talking, let the last echoes come back, then hang up.
    printf '  <nop><action><exec rtp_stream="pause"/></action></nop>\n'
    printf '  <pause milliseconds="1000"/>\n'
    cat <<'EOF'
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      [routes]
      From: <sip:+15550100@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
EOF
} >"$uac"
agent_csv="$work/agent.csv"
printf 'SEQUENTIAL\n%s;pw%s;[authentication username=%s password=pw%s]\n' "$AGENT" "$AGENT" "$AGENT" "$AGENT" >"$agent_csv"

# --------------------------------------------------------- configuration
make_config() {
    local cfg="$work/config"
    bench_config "$cfg" '"warn"' udp
    toml_set "$cfg/switchboard.toml" media rtp_ports "\"$RTP_PORTS\""
    echo "$cfg"
}

start_switch() {
    local cfg="$1" level="$2" port
    for port in "$CARRIER_PORT" "$AGENTS_PORT" "$UAS_PORT" "$UAC_PORT"; do
        udp_listening "$port" && die "UDP port $port is already in use on $LO; set the *_PORT variables"
    done
    launch_switch "$cfg" "$work/switch.$level.log" "$CARRIER_PORT" "$AGENTS_PORT"
}

start_agent() {
    local level="$1"
    local dir="$work/agent.$level"
    mkdir -p "$dir"
    (cd "$dir" && timeout 20 sipp "${SIPP_COMMON[@]}" "$LO:$AGENTS_PORT" -sf "$scen/register_users.xml" \
        -inf "$agent_csv" -key contact_port "$UAS_PORT" -key expires 3600 -p "$UAS_PORT" \
        -mp "$((MEDIA_PORT + 700))" -m 1 -timeout 15s -timeout_error >register.log 2>&1) ||
        die "could not register the SIPp UAS as $AGENT: $(tail -n 5 "$dir/register.log")"
    (cd "$dir" && exec timeout 7200 sipp "${SIPP_COMMON[@]}" -sf "$root/tests/sipp/uas_echo.xml" \
        -key agent_pts "8" -rtp_echo -p "$UAS_PORT" -mp "$((MEDIA_PORT + 600))" \
        -trace_err -error_file err.log >stdout.log 2>&1) &
    pids+=($!)
    local _
    for _ in $(seq 50); do
        udp_listening "$UAS_PORT" && return 0
        sleep 0.1
    done
    die "the SIPp UAS did not start"
}

# cdr_totals CONFIG N: "calls answered caller_rx caller_lost agent_rx"
# over the last N calls, from `switchboard calls --json`.
cdr_totals() {
    "$SWITCHBOARD_BIN" calls --config "$1" --json --limit "$2" >"$work/cdrs.json"
    python3 - "$work/cdrs.json" <<'EOF'
import json, sys
calls = json.load(open(sys.argv[1]))
answered = [c for c in calls if c.get("disposition") == "answered"]
def leg(c, name, key):
    q = (c.get("legs") or {}).get(name) or {}
    return q.get(key) or 0
print(len(calls), len(answered),
      sum(leg(c, "caller", "packets_received") for c in answered),
      sum(leg(c, "caller", "packets_lost") for c in answered),
      sum(leg(c, "agent", "packets_received") for c in answered))
EOF
}

# --------------------------------------------------------------- one level
best=0
best_line=""
best_cpu_ns=0
best_mem_kb=0
report=()

run_level() {
    local n="$1"
    local cfg
    cfg="$(make_config)"
    start_switch "$cfg" "$n"
    start_agent "$n"
    sleep 1
    local rss0 anon0 ticks0 clk
    rss0="$(rss_kib "$switch_pid")"
    anon0="$(rss_anon_kib "$switch_pid")"
    ticks0="$(cpu_ticks "$switch_pid")"
    clk="$(getconf CLK_TCK)"
    local dir="$work/uac.$n"
    mkdir -p "$dir"
    local ramp=$(((n + RAMP_RATE - 1) / RAMP_RATE))
    local budget=$((HOLD_SECONDS + ramp + 60))
    (cd "$dir" && exec timeout $((budget + 15)) sipp "${SIPP_COMMON[@]}" "$LO:$CARRIER_PORT" -sf "$uac" \
        -s "$AGENT" -p "$UAC_PORT" -mp "$MEDIA_PORT" -r "$RAMP_RATE" -l "$n" -m "$n" \
        -timeout "${budget}s" -timeout_error -trace_stat -stf stat.csv -fd 1 \
        -trace_err -error_file err.log >stdout.log 2>&1) &
    local sp=$!
    pids+=("$sp")
    # Memory with every call up and talking: halfway through the hold.
    nap $((ramp + HOLD_SECONDS / 2))
    local rss1 anon1
    rss1="$(rss_kib "$switch_pid")"
    anon1="$(rss_anon_kib "$switch_pid")"
    local rc=0
    wait "$sp" || rc=$?
    forget_pid "$sp"
    # Every call's CDR closed (both legs hung up), at most 40 s.
    local _
    for _ in $(seq 40); do
        "$SWITCHBOARD_BIN" calls --config "$cfg" --json --limit "$n" |
            python3 -c 'import json, sys; sys.exit(any(c["ended_at"] is None for c in json.load(sys.stdin)))' &&
            break
        sleep 1
    done
    local ticks1
    ticks1="$(cpu_ticks "$switch_pid")"
    local ok failed
    ok="$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')"
    failed="$(stat_col "$dir/stat.csv" 'FailedCall(C)')"
    read -r calls answered caller_rx caller_lost agent_rx < <(cdr_totals "$cfg" "$n")
    stop_started
    local sent=$((caller_rx + caller_lost))
    local relayed=$((caller_rx + agent_rx))
    local lost_ppm=1000000
    if ((sent > 0)); then
        lost_ppm=$(((2 * sent - relayed) * 1000000 / (2 * sent)))
        ((lost_ppm >= 0)) || lost_ppm=0
    fi
    local cpu_ns=0
    ((relayed > 0)) && cpu_ns=$(((ticks1 - ticks0) * 1000000000 / clk / relayed))
    local mem_kb=$(((anon1 - anon0) / n))
    local rss_kb=$(((rss1 - rss0) / n))
    local pass=0
    if ((rc == 0 && ok == n && failed == 0 && answered == n && lost_ppm < MAX_LOSS_PPM)); then
        pass=1
    fi
    local line
    line="$(printf '%4d calls: %4d ok %3d failed; packets sent %d, relayed %d (caller %d, echo %d), loss %s%%; CPU %s us/packet; memory %d KiB/call (all resident memory: %d): %s' \
        "$n" "$ok" "$failed" "$sent" "$relayed" "$caller_rx" "$agent_rx" \
        "$(awk -v p="$lost_ppm" 'BEGIN { printf "%.3f", p / 10000 }')" \
        "$(awk -v c="$cpu_ns" 'BEGIN { printf "%.2f", c / 1000 }')" "$mem_kb" "$rss_kb" \
        "$([[ $pass == 1 ]] && echo PASS || echo FAIL)")"
    log "$line"
    report+=("$line")
    if [[ $pass == 1 ]]; then
        best="$n"
        best_line="$line"
        best_cpu_ns="$cpu_ns"
        best_mem_kb="$mem_kb"
        return 0
    fi
    return 1
}

# -------------------------------------------------------------------- main
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release)"
    (cd "$root" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[[ -x "$SWITCHBOARD_BIN" ]] || die "no switch binary at $SWITCHBOARD_BIN"
log "levels: $LEVELS concurrent calls, each held ${HOLD_SECONDS} s talking, recording on"
for n in $LEVELS; do
    run_level "$n" || break
done

echo
echo "media load (SIPp rtp_stream callers -> switch -> SIPp -rtp_echo agent, recording on, ${HOLD_SECONDS} s):"
for l in "${report[@]}"; do echo "  $l"; done
missed=0
if ((best == 0)); then
    echo "RESULT: no level held with loss < $(awk -v p="$MAX_LOSS_PPM" 'BEGIN { print p / 10000 }')%"
    missed=1
else
    cpu_ok=$((best_cpu_ns <= CPU_TARGET_NS))
    mem_ok=$((best_mem_kb * 1024 <= MEM_TARGET_KB * 1000))
    echo "RESULT: highest N held for ${HOLD_SECONDS} s with loss < 0.1%: $best concurrent calls"
    printf 'RESULT: CPU per relayed packet at N=%d: %.2f us (target <= %d us): %s\n' "$best" \
        "$(awk -v c="$best_cpu_ns" 'BEGIN { print c / 1000 }')" $((CPU_TARGET_NS / 1000)) \
        "$([[ $cpu_ok == 1 ]] && echo met || echo MISSED)"
    printf 'RESULT: memory per call at N=%d: %d KiB (target <= %d KB): %s\n' "$best" "$best_mem_kb" \
        "$MEM_TARGET_KB" "$([[ $mem_ok == 1 ]] && echo met || echo MISSED)"
    ((cpu_ok == 1 && mem_ok == 1)) || missed=1
fi
if [[ "$ENFORCE_TARGETS" == 1 && $missed == 1 ]]; then
    exit 3
fi
exit 0
