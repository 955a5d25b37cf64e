#!/usr/bin/env bash
# IVR load benchmark (issue 4), driven by SIPp: callers that enter the demo
# flow, press a digit and stay in the menu hearing prompts.
#
# Builds Switchboard (release) and, for each level N of LEVELS, starts a
# fresh switch on a temporary copy of the repository's demo configuration
# (other ports, flood defence lifted, the RTP port range widened) and puts
# N callers in the IVR at once:
#   - each caller (SIPp UAC on the carrier trunk; SDP: PCMU and
#     telephone-event 101) calls number 150, which runs the flow `bench`:
#     ivr-flows/demo.toml copied as it is (the spoken recording notice, the
#     customer lookup, the calendar branch, the menu) except for the
#     menu's exits, so that callers stay in it: key 1 comes back to the
#     menu, running out of retries starts the menu again (the demo's 1,
#     orders, moves to key 4). After DIGIT_AT_MS (past the notice) the
#     caller presses 1 as RFC 4733 events, SIPp's play_pcap_audio of
#     Debian's dtmf_2833_1.pcap, then stays, hearing the menu prompt, a
#     500 ms wait, the timeout prompt and the menu again, until all N
#     callers have been in the menu for HOLD_SECONDS; then it hangs up.
#     Callers send no audio besides the digit, so the bench's copy lifts
#     [media] media_timeout_seconds (30 s in the demo) above the calls'
#     length.
#   - The switch's RTP towards the callers is captured on lo by tcpdump
#     (54-byte snaplen: headers only) from before the first call to after
#     the last, and benches/rtp_schedule.py measures every stream against
#     its own RTP clock: the switch moves a leg's timestamp on by one
#     frame each 20 ms tick, so a packet's due time is its stream's
#     timestamp offset from the first packet, fitted to the stream's most
#     punctual packet; a packet more than LATE_MS (10) behind that is late.
#     (A stream late by the same amount throughout cannot be told from one
#     that started later; what a caller's jitter buffer suffers from, and
#     what this counts, is the variation.)
#     The kernel stamps a packet on lo as the switch sends it, so this is
#     the switch's own punctuality (what the caller's jitter buffer would
#     see on a network without delay of its own). Frames the switch skipped
#     (more than 3 ticks behind it sends the latest 3 and moves the clock
#     over the rest) show as timestamp gaps and are counted as "skipped";
#     packets missing from the capture (sequence gaps) too. A capture that
#     tcpdump reports drops for is not a pass, whatever it measured.
#   - The machine's own pauses: this VM stops now and then (a 1 ms sleeper
#     at real-time priority, alone on it, oversleeps by 11-13 ms about twice
#     a minute), and no program on it can send on time through such a
#     pause. benches/pause_probe.py runs beside the switch at real-time
#     priority and notes every stretch of more than 5 ms it could not run;
#     late packets that those stretches account for (without them the
#     packet would have been within LATE_MS) are counted apart ("late in
#     pauses"). A level whose every other check passed and whose late
#     packets all fell in such pauses is reported as PASS*, beside the
#     strict result.
#   - CPU per prompt packet: the switch's utime + stime (/proc/PID/stat, so
#     SIPp's and tcpdump's own costs are excluded; the kernel's work in the
#     switch's send calls is included) over the hold window (from the
#     moment every caller has pressed 1 and is in the menu, for
#     HOLD_SECONDS), divided by the RTP packets the switch sent to the
#     callers in that window (from the capture). Those include the frames
#     of silence the session sends in the menu's 500 ms wait between
#     prompts (about 5% of the time). On loopback the kernel's work inside
#     the switch's sendto includes delivering the datagram to SIPp's
#     socket and copying it to the capture (a perf profile at 500 callers:
#     sendto 43% of the switch's CPU, the capture's copies 7%), which a
#     switch sending to a network card would not pay.
#   - Each run starts from a fresh copy of the configuration, its
#     prompts/tts/ cache empty: the switch speaks the flow's text prompts
#     as it starts (well under a second), and the callers come once its
#     log says they are spoken, as traffic reaches a switch started before.
#   - Failed calls: SIPp's failed calls, plus callers whose CDR does not
#     show the menu taking their key ("key 1 -> menu" in the call's
#     journal), calls the switch hung up, and callers that left before
#     the hold window ended. A level passes with no failure, no late
#     packet, no skipped or missing frame and no capture drop; the result
#     is the highest level that passed.
#   - Entry rate, per level: how fast its callers were answered (calls
#     answered / the span of their answer times, from the CDRs) at
#     RAMP_RATE offered. Then the entry test: ENTRY_CALLS callers (the
#     highest level held, by default) offered at each rate of ENTRY_RATES
#     in turn, each pressing 1 in the menu and hanging up 2 s later; a rate
#     passes with the same checks (no failed call, every caller's key
#     taken by the menu, no late or skipped packet, no capture drop) and
#     when the callers were answered at >= 90% of the offered rate. It
#     prints the highest rate that passed.
#
# Each caller waits a random 0-20 ms before its INVITE. SIPp sends calls
# at exact intervals, and a rate dividing 50/s (50, 100, 200/s...) would
# start every call's media session, and so its 20 ms tick, in the same
# phase as the others': the switch would then send all N callers' packets
# in one burst every 20 ms (measured: 250 callers at 50/s sent 226 of
# their 250 packets within the same 5 ms), where callers arriving from a
# network at random moments spread them over the 20 ms.
#
# SIPp 3.6's play_pcap_audio sends from a raw socket that it opens for the
# 140 ms of the digit, in a thread of its own; while such a socket is open,
# the kernel copies every UDP packet on the machine into it. The hold
# window starts once every caller's digit is over, so no raw socket is
# open during the CPU measurement. All callers advertise SIPp's one media
# port (-mp), which SIPp does not read: the switch's packets to it are
# dropped by the kernel once its receive buffer is full, after the capture
# has seen them. Streams are told apart by the switch's source port and
# SSRC.
#
# Usage:  bash benches/ivr_load.sh
# Environment (defaults in brackets):
#   LEVELS         concurrent callers to try, ascending ["250 500 1000"]
#   HOLD_SECONDS   how long all N callers stay in the menu together [60]
#   RAMP_RATE      calls per second at which a level's callers enter [50]
#   ENTRY_RATES    offered rates of the entry test, ascending ["50 100 200 400"]
#                  ("" skips the entry test)
#   ENTRY_CALLS    callers per entry rate [the highest level held, else the first]
#   DIGIT_AT_MS    when a caller presses 1, after the answer [9000; the
#                  notice lasts about 6.5 s]
#   LATE_MS        lateness counted as late [10]
#   QUIET_WAIT     before each run, wait at most this long (s) for the
#                  machine to be under QUIET_PERCENT [15] busy for 3 s, so
#                  a run does not start in someone's build [120; 0: never]
#   CARRIER_PORT [29080] AGENTS_PORT [29060] UAC_PORT [29090]
#   MEDIA_PORT     SIPp's media port (and +2) [29100]
#   RTP_PORTS      the switch's [media] rtp_ports ["40000-49999"]
#   SWITCH_NICE    the switch's nice value [unset: as the shell's]; a
#                  negative one keeps a build beside the bench from delaying
#                  its packets (the run's others CPU % tells how busy the
#                  rest of the machine was)
#   MEDIA_RT_PRIORITY  the switch's [media] realtime_priority [unset: 0,
#                  the demo's: media threads in the normal class]; 1-99
#                  runs them SCHED_RR (needs root, as the capture does)
#   SWITCHBOARD_BIN  binary to run [$CARGO_TARGET_DIR or target, /release/switchboard]
#   SKIP_BUILD=1   do not run cargo build
#   KEEP=1         keep the work folder (logs, captures, CDR JSON)
#   STOP_AT_FAIL=1 skip the levels above the first that fails (by default
#                  every level runs: on a shared machine a level may fail
#                  for a few packets delayed by someone else's build)
#   ENFORCE_TARGETS=1  exit 3 when a figure misses its target
# Targets: 1,000 concurrent callers, <= 5 us of CPU per packet sent.
# Needs: sipp (sip-tester), tcpdump, espeak-ng, python3; root (or the
# capture capability) for tcpdump.
# Exit: 0 when the measurements ran, 1 when the switch, SIPp or the
# capture could not be started, 3 when a target was missed and
# ENFORCE_TARGETS=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

LEVELS="${LEVELS:-250 500 1000}"
HOLD_SECONDS="${HOLD_SECONDS:-60}"
RAMP_RATE="${RAMP_RATE:-50}"
ENTRY_RATES="${ENTRY_RATES-50 100 200 400}"
ENTRY_CALLS="${ENTRY_CALLS:-}"
DIGIT_AT_MS="${DIGIT_AT_MS:-9000}"
LATE_MS="${LATE_MS:-10}"
QUIET_WAIT="${QUIET_WAIT:-120}"
QUIET_PERCENT="${QUIET_PERCENT:-15}"
CARRIER_PORT="${CARRIER_PORT:-29080}"
AGENTS_PORT="${AGENTS_PORT:-29060}"
UAC_PORT="${UAC_PORT:-29090}"
MEDIA_PORT="${MEDIA_PORT:-29100}"
RTP_PORTS="${RTP_PORTS:-40000-49999}"
MEDIA_RT_PRIORITY="${MEDIA_RT_PRIORITY:-0}"
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-}"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP="${KEEP:-0}"
ENFORCE_TARGETS="${ENFORCE_TARGETS:-0}"
STOP_AT_FAIL="${STOP_AT_FAIL:-0}"

CALLERS_TARGET=1000
CPU_TARGET_NS=5000
DIGIT_PCAP=/usr/share/sip-tester/dtmf_2833_1.pcap
NUMBER=150 # the bench flow's number on the carrier trunk
LO=127.0.0.1
SIPP_COMMON=(-nostdin -i "$LO" -mi "$LO")
# The scenario's messages, in order: 0 pause (the phase), 1 INVITE, 2 100,
# 3 180, 4 200, 5 ACK, 6 pause (until the digit), 7 the digit, 8 pause (in
# the menu), 9 BYE, 10 200.
IN_MENU_COUNT=8_Pause_Sessions

log() { printf '[ivr_load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in HOLD_SECONDS RAMP_RATE DIGIT_AT_MS LATE_MS QUIET_PERCENT CARRIER_PORT AGENTS_PORT UAC_PORT MEDIA_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ "$QUIET_WAIT" =~ ^[0-9]+$ ]] || die "QUIET_WAIT must be a number of seconds (got '$QUIET_WAIT')"
for n in $LEVELS $ENTRY_RATES $ENTRY_CALLS; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "LEVELS, ENTRY_RATES and ENTRY_CALLS must be positive integers (got '$n')"
done
[[ "$RTP_PORTS" =~ ^([0-9]+)-([0-9]+)$ ]] || die "RTP_PORTS must be FIRST-LAST (got '$RTP_PORTS')"
rtp_first="${BASH_REMATCH[1]}"
rtp_last="${BASH_REMATCH[2]}"
command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester; bash scripts/install-deps.sh)"
command -v tcpdump >/dev/null || die "tcpdump not found (bash scripts/install-deps.sh)"
command -v python3 >/dev/null || die "python3 not found (it reads the capture and the CDRs)"
command -v espeak-ng >/dev/null || die "espeak-ng not found: the demo flow's prompts are spoken text"
[[ -f "$DIGIT_PCAP" ]] || die "$DIGIT_PCAP not found (Debian package sip-tester)"
[[ "$(id -u)" == 0 ]] || log "not root: tcpdump needs the capture capability on lo"
most=0
for n in $LEVELS $ENTRY_CALLS; do ((n > most)) && most=$n; done
# Each caller's leg takes an even RTP port and the odd one after it.
(((rtp_last - rtp_first + 1) / 2 >= most)) ||
    die "RTP_PORTS $RTP_PORTS holds $(((rtp_last - rtp_first + 1) / 2)) legs, fewer than $most callers"
# The switch needs 2 sockets per caller (RTP, RTCP) and raises its own
# limit to the hard one; SIPp needs a few descriptors per call.
nofile_hard="$(ulimit -Hn)"
[[ "$nofile_hard" == unlimited ]] || ((nofile_hard >= 2 * most + 1000)) ||
    die "the open files limit (ulimit -Hn = $nofile_hard) is too low for $most callers"

work="$(mktemp -d "${TMPDIR:-/tmp}/ivr_load.XXXXXX")"
log "work folder: $work"

# shellcheck source=benches/lib.sh
source "$root/benches/lib.sh"

install_cleanup
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-$(release_bin)}"

# ------------------------------------------------------------- scenario
# write_scenario FILE STAY_MS: a caller that enters the flow, presses 1
# after DIGIT_AT_MS and hangs up STAY_MS later.
write_scenario() {
    local file="$1" stay_ms="$2"
    {
        cat <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- Generated by benches/ivr_load.sh: a caller in the IVR menu. -->
<scenario name="ivr load caller">
  <!-- A random phase: see the script's header. -->
  <pause distribution="uniform" min="0" max="20"/>
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:+1555[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
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
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
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
      From: <sip:+1555[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0
    ]]>
  </send>
EOF
        printf '  <pause milliseconds="%d"/>\n' "$DIGIT_AT_MS"
        printf '  <nop><action><exec play_pcap_audio="%s"/></action></nop>\n' "$DIGIT_PCAP"
        printf '  <pause milliseconds="%d"/>\n' "$stay_ms"
        cat <<'EOF'
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      [routes]
      From: <sip:+1555[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
EOF
    } >"$file"
}

# --------------------------------------------------------- configuration
make_config() {
    local cfg="$work/config"
    # Warnings only, except the line saying the prompts are spoken.
    bench_config "$cfg" '"warn,switchboard::server::speak_ahead=info"' udp
    local sw="$cfg/switchboard.toml"
    toml_set "$sw" media rtp_ports "\"$RTP_PORTS\""
    # Callers are silent after their digit: no media timeout during a run.
    toml_set "$sw" media media_timeout_seconds 7200
    toml_set "$sw" media realtime_priority "$MEDIA_RT_PRIORITY"
    toml_set "$sw" limits max_transactions 1000000
    toml_set "$cfg/sip-profiles/carrier.toml" routing.numbers "\"$NUMBER\"" '"flow:bench"'
    # The demo flow, with a menu that keeps its callers.
    local flow="$cfg/ivr-flows/bench.toml"
    cp "$cfg/ivr-flows/demo.toml" "$flow"
    toml_set "$flow" nodes.menu choices \
        '{ "1" = "menu", "2" = "after_sales", "3" = "complaints", "4" = "orders", "0" = "any_agent" }'
    toml_set "$flow" nodes.menu timeout_ms 500
    toml_set "$flow" nodes.menu retries 10
    toml_set "$flow" nodes.menu exhausted '"menu"'
    check_config "$cfg" bench "$work/check.log"
    echo "$cfg"
}

# ------------------------------------------------------------ capture
cap_pid=""
start_capture() {
    local file="$1"
    tcpdump -i lo -n -p -Z root -s 54 -B 65536 -w "$file" \
        "udp and src host $LO and src portrange $RTP_PORTS and dst port $MEDIA_PORT" \
        2>"$file.log" &
    cap_pid=$!
    pids+=("$cap_pid")
    local _
    for _ in $(seq 100); do
        grep -q "listening on" "$file.log" 2>/dev/null && return 0
        kill -0 "$cap_pid" 2>/dev/null || die "tcpdump did not start: $(cat "$file.log")"
        sleep 0.1
    done
    die "tcpdump did not start listening within 10 s: $(cat "$file.log")"
}

# stop_capture FILE: stops tcpdump; prints the packets it dropped.
stop_capture() {
    local file="$1"
    # A second for the capture ring's last block to be handed over (its
    # timeout), then stop.
    sleep 1.5
    kill -INT "$cap_pid" 2>/dev/null || true
    wait "$cap_pid" 2>/dev/null || true
    forget_pid "$cap_pid"
    cap_pid=""
    awk '/dropped by (kernel|interface)/ { d += $1 } END { print d + 0 }' "$file.log"
}

# --------------------------------------------------- the machine's pauses
# benches/pause_probe.py at real-time priority beside the switch: the
# stretches (> 5 ms) during which the machine itself did not run it.
probe_pid=""
start_probe() {
    local out="$1" rt=()
    [[ "$(id -u)" == 0 ]] && command -v chrt >/dev/null && rt=(chrt -f 10)
    "${rt[@]}" python3 "$root/benches/pause_probe.py" 7200 --over-ms 5 >"$out" 2>"$out.log" &
    probe_pid=$!
    pids+=("$probe_pid")
}

stop_probe() {
    [[ -n "$probe_pid" ]] || return 0
    stop_pid "$probe_pid"
    forget_pid "$probe_pid"
    probe_pid=""
}

# ------------------------------------------------------------ the CDRs
# cdr_figures CONFIG N: "calls answered in_menu by_switch entry_rate_x100"
# over the last N calls: answered by the flow, whose journal shows the menu
# taking key 1, hung up by the switch, and answered per second (x100) over
# the span of their answer times.
cdr_figures() {
    "$SWITCHBOARD_BIN" calls --config "$1" --json --limit "$2" >"$3"
    python3 - "$3" <<'EOF'
import json, sys
calls = json.load(open(sys.argv[1]))
answered = [c for c in calls if c.get("disposition") == "answered"]
in_menu = [c for c in answered
           if any(e.get("kind") == "node" and e.get("detail") == "key 1 -> menu"
                  for e in c.get("events") or [])]
by_switch = [c for c in calls if c.get("hangup_by") not in ("caller", None)]
at = sorted(c["answered_at"] for c in answered if c.get("answered_at"))
rate = 0
if len(at) > 1 and at[-1] > at[0]:
    rate = int(100 * (len(at) - 1) * 1000 / (at[-1] - at[0]))
print(len(calls), len(answered), len(in_menu), len(by_switch), rate)
EOF
}

# ------------------------------------------------------------ one run
# run_callers NAME N RATE HOLD: N callers offered at RATE/s; HOLD > 0: all
# stay in the menu together for HOLD s (CPU measured then); HOLD = 0: each
# leaves 2 s after its digit. Sets the r_* figures below.
r_ok=0 r_failed=0 r_in_menu=0 r_by_switch=0 r_left=0 r_late=0 r_skipped=0 r_gaps=0 r_drops=0
r_streams=0 r_max_late_us=0 r_p99_us=0 r_window_packets=0 r_cpu_ns=0 r_entry_x100=0 r_pass=0
r_late_paused=0 r_pauses=0 r_pass_paused=0
r_why="" r_log_errors=0 r_others_mean=0 r_others_max=0
run_callers() {
    local name="$1" n="$2" rate="$3" hold="$4"
    local dir="$work/$name"
    mkdir -p "$dir"
    local cfg
    cfg="$(make_config)"
    local port
    for port in "$CARRIER_PORT" "$AGENTS_PORT" "$UAC_PORT" "$MEDIA_PORT" "$((MEDIA_PORT + 2))"; do
        udp_listening "$port" && die "UDP port $port is already in use on $LO; set the *_PORT variables"
    done
    wait_quiet
    launch_switch "$cfg" "$dir/switch.log" "$CARRIER_PORT" "$AGENTS_PORT"
    log "$name: switch pid $switch_pid, open files limit $(awk '/Max open files/ { print $4 }' "/proc/$switch_pid/limits")"
    local spoken_by=$(($(now_ms) + 30000))
    until grep -q "spoken ahead of calls" "$dir/switch.log"; do
        (($(now_ms) < spoken_by)) || die "the switch did not speak its prompts within 30 s (log: $dir/switch.log)"
        sleep 0.2
    done
    start_capture "$dir/rtp.pcap"
    start_probe "$dir/pauses.txt"

    local ramp_s=$(((n + rate - 1) / rate))
    local stay_ms=2000
    ((hold > 0)) && stay_ms=$(((ramp_s + hold + 12) * 1000))
    write_scenario "$dir/caller.xml" "$stay_ms"
    local budget=$((2 * ramp_s + DIGIT_AT_MS / 1000 + stay_ms / 1000 + 60))
    (cd "$dir" && exec timeout $((budget + 15)) sipp "${SIPP_COMMON[@]}" "$LO:$CARRIER_PORT" \
        -sf caller.xml -s "$NUMBER" -p "$UAC_PORT" -mp "$MEDIA_PORT" -r "$rate" -rp 1000 \
        -l "$n" -m "$n" -timeout "${budget}s" -timeout_error \
        -trace_stat -stf stat.csv -trace_counts -fd 1 -trace_err -error_file err.log \
        >stdout.log 2>&1) &
    local sp=$!
    pids+=("$sp")
    local t_start sipp_pid="" _
    t_start="$(date +%s)"
    for _ in $(seq 20); do
        sipp_pid="$(pgrep -P "$sp" -x sipp || true)"
        [[ -n "$sipp_pid" ]] && break
        sleep 0.1
    done
    start_sampler "$dir/cpu.samples" "$switch_pid" "$cap_pid" ${sipp_pid:+"$sipp_pid"}

    local ticks0=0 ticks1=0 w0=0 w1=0 counts="" f in_menu=0
    r_left=0
    if ((hold > 0)); then
        # Every caller has pressed 1 and is in the menu: the hold starts.
        local deadline=$(($(now_ms) + (2 * ramp_s + DIGIT_AT_MS / 1000 + 60) * 1000))
        while :; do
            for f in "$dir"/*_counts.csv; do [[ -f "$f" ]] && counts="$f"; done
            [[ -n "$counts" ]] && in_menu="$(counts_col "$counts" "$IN_MENU_COUNT")"
            ((in_menu >= n)) && break
            if ! kill -0 "$sp" 2>/dev/null || (($(now_ms) > deadline)); then
                log "$name: only $in_menu of $n callers got to the menu"
                break
            fi
            sleep 0.5
        done
        if ((in_menu >= n)); then
            nap 1
            ticks0="$(cpu_ticks "$switch_pid")"
            w0="$(date +%s.%N)"
            log "$name: $n callers in the menu; holding ${hold} s"
            nap "$hold"
            ticks1="$(cpu_ticks "$switch_pid")"
            w1="$(date +%s.%N)"
            # Let the counts file catch up (written every second).
            sleep 1.2
            in_menu="$(counts_col "$counts" "$IN_MENU_COUNT")"
            ((in_menu >= n)) || r_left=$((n - in_menu))
        fi
    fi
    local rc=0
    wait "$sp" || rc=$?
    forget_pid "$sp"
    # Every call's CDR closed, at most 40 s.
    for _ in $(seq 40); do
        "$SWITCHBOARD_BIN" calls --config "$cfg" --json --limit "$n" |
            python3 -c 'import json, sys; sys.exit(any(c["ended_at"] is None for c in json.load(sys.stdin)))' &&
            break
        sleep 1
    done
    stop_sampler
    read -r r_others_mean r_others_max < <(others_cpu "$dir/cpu.samples")
    r_drops="$(stop_capture "$dir/rtp.pcap")"
    stop_probe
    read -r _ _ r_in_menu r_by_switch r_entry_x100 < <(cdr_figures "$cfg" "$n" "$dir/cdrs.json")
    # Errors, panics and warnings, but the first start's notice that it made
    # the personal-data key.
    r_log_errors="$(grep -E ' (ERROR|WARN) |panicked' "$dir/switch.log" | grep -vc 'key for personal data' || true)"
    stop_started
    r_ok="$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')"
    r_failed="$(stat_col "$dir/stat.csv" 'FailedCall(C)')"

    local window=()
    ((hold > 0 && ticks1 > 0)) && window=(--window "$w0" "$w1")
    local figures
    figures="$(python3 "$root/benches/rtp_schedule.py" "$dir/rtp.pcap" --late-ms "$LATE_MS" "${window[@]}" \
        --pauses "$dir/pauses.txt")" ||
        die "the capture could not be read ($dir/rtp.pcap)"
    local kv k v late_seconds="-"
    for kv in $figures; do
        k="${kv%%=*}"
        v="${kv#*=}"
        case "$k" in
            streams) r_streams="$v" ;;
            late) r_late="$v" ;;
            max_late_us) r_max_late_us="$v" ;;
            p99_late_us) r_p99_us="$v" ;;
            skipped) r_skipped="$v" ;;
            seq_gaps) r_gaps="$v" ;;
            late_in_pauses) r_late_paused="$v" ;;
            pauses) r_pauses="$v" ;;
            window_packets) r_window_packets="$v" ;;
            late_seconds) late_seconds="$v" ;;
        esac
    done
    if [[ "$late_seconds" != - ]]; then
        local at list="" sec cnt
        for at in ${late_seconds//,/ }; do
            sec="${at%%:*}"
            cnt="${at#*:}"
            list+=" +$((sec - t_start))s:$cnt(others $(others_at "$dir/cpu.samples" "$sec"))"
        done
        log "$name: most late packets at (s after SIPp's start: count, other processes' share of the machine, the hypervisor's steal):$list"
    fi
    r_cpu_ns=0
    if ((ticks1 > 0 && r_window_packets > 0)); then
        r_cpu_ns=$(((ticks1 - ticks0) * 1000000000 / $(getconf CLK_TCK) / r_window_packets))
    fi
    [[ "$KEEP" == 1 ]] || rm -f "$dir/rtp.pcap"

    r_why=""
    ((rc == 0)) || r_why+=" sipp-exit-$rc"
    ((r_ok == n)) || r_why+=" only-$r_ok-of-$n-calls-succeeded"
    ((r_failed == 0)) || r_why+=" $r_failed-failed"
    ((r_in_menu == n)) || r_why+=" $((n - r_in_menu))-never-in-menu"
    ((r_by_switch == 0)) || r_why+=" $r_by_switch-hung-up-by-switch"
    ((r_left == 0)) || r_why+=" $r_left-left-before-the-hold-ended"
    ((hold == 0 || ticks1 > 0)) || r_why+=" no-hold-window"
    ((r_streams == n)) || r_why+=" $r_streams-rtp-streams"
    ((r_late == 0)) || r_why+=" $r_late-late"
    ((r_skipped == 0)) || r_why+=" $r_skipped-skipped"
    ((r_gaps == 0)) || r_why+=" $r_gaps-missing"
    ((r_drops == 0)) || r_why+=" capture-dropped-$r_drops"
    r_pass=0
    [[ -z "$r_why" ]] && r_pass=1
    # The same checks, but late packets that the machine's own pauses
    # account for do not count.
    r_pass_paused=0
    [[ "${r_why// $r_late-late/}" == "" && $r_late == "$r_late_paused" ]] && r_pass_paused=1
    if [[ -s "$dir/err.log" && $r_pass == 0 ]]; then
        log "$name: SIPp errors: $(awk 'NR > 1 && NR <= 4' "$dir/err.log" | cut -c1-200)"
    fi
    ((r_log_errors == 0)) || log "$name: $r_log_errors warnings/errors in the switch's log ($dir/switch.log)"
    return 0
}

fmt_us() { awk -v n="$1" 'BEGIN { printf "%.2f", n / 1000 }'; }
fmt_ms() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1000 }'; }
fmt_rate() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 100 }'; }

# -------------------------------------------------------------------- main
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release)"
    (cd "$root" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[[ -x "$SWITCHBOARD_BIN" ]] || die "no switch binary at $SWITCHBOARD_BIN"
log "levels: $LEVELS callers entering at $RAMP_RATE/s, all in the menu for ${HOLD_SECONDS} s; entry rates: ${ENTRY_RATES:-(none)}"
log "switch: nice ${SWITCH_NICE:-as the shell}, media realtime_priority $MEDIA_RT_PRIORITY"
log "open files: soft $(ulimit -Sn), hard $(ulimit -Hn); switch RTP ports $RTP_PORTS"

# verdict: PASS, PASS* (late packets only in the machine's pauses) or
# FAIL: and why.
verdict() {
    if [[ $r_pass == 1 ]]; then
        echo PASS
    elif [[ $r_pass_paused == 1 ]]; then
        echo "PASS*"
    else
        echo "FAIL:$r_why"
    fi
}

level_rows=()
best=0
best_cpu_ns=0
best_paused=0
best_paused_cpu_ns=0
for n in $LEVELS; do
    log "level $n: $n callers"
    run_callers "level.$n" "$n" "$RAMP_RATE" "$HOLD_SECONDS"
    level_rows+=("$(printf '%7d %7d %6d %7d %7d %7d %6d %7d %6s %7s %9s %8s %7s   %s' \
        "$n" "$r_ok" "$((n - r_ok > r_failed ? n - r_ok : r_failed))" "$r_in_menu" "$r_late" "$r_late_paused" \
        "$r_pauses" "$r_skipped" "$r_drops" "$(fmt_ms "$r_max_late_us")" "$(fmt_us "$r_cpu_ns")" \
        "$(fmt_rate "$r_entry_x100")" "$r_others_mean/$r_others_max" "$(verdict)")")
    log "level $n: ${level_rows[-1]}"
    log "level $n: $r_window_packets packets in the hold window (expected $((n * HOLD_SECONDS * 50))), p99 lateness $(fmt_ms "$r_p99_us") ms, $r_gaps missing"
    if [[ $r_pass == 1 ]]; then
        best="$n"
        best_cpu_ns="$r_cpu_ns"
    fi
    if [[ $r_pass == 1 || $r_pass_paused == 1 ]]; then
        best_paused="$n"
        best_paused_cpu_ns="$r_cpu_ns"
    elif [[ "$STOP_AT_FAIL" == 1 ]]; then
        break
    fi
done

entry_rows=()
entry_best=0
entry_best_paused=0
if [[ -n "$ENTRY_RATES" ]]; then
    first_level="${LEVELS%% *}"
    entry_n="${ENTRY_CALLS:-$((best_paused > 0 ? best_paused : first_level))}"
    for rate in $ENTRY_RATES; do
        log "entry: $entry_n callers offered at $rate/s"
        run_callers "entry.$rate" "$entry_n" "$rate" 0
        # Answered at >= 90% of the offered rate, or it did not keep up.
        if ((r_entry_x100 * 100 < rate * 100 * 90)); then
            r_why+=" answered-at-$(fmt_rate "$r_entry_x100")/s"
            r_pass=0
            r_pass_paused=0
        fi
        entry_rows+=("$(printf '%7d %7d %7d %6d %7d %10s %7d %7d %6d %7d %6s %7s %7s   %s' \
            "$rate" "$entry_n" "$r_ok" "$((entry_n - r_ok > r_failed ? entry_n - r_ok : r_failed))" \
            "$r_in_menu" "$(fmt_rate "$r_entry_x100")" "$r_late" "$r_late_paused" "$r_pauses" "$r_skipped" "$r_drops" \
            "$(fmt_ms "$r_max_late_us")" "$r_others_mean/$r_others_max" "$(verdict)")")
        log "entry $rate/s: ${entry_rows[-1]}"
        [[ $r_pass == 1 ]] && entry_best="$rate"
        if [[ $r_pass == 1 || $r_pass_paused == 1 ]]; then
            entry_best_paused="$rate"
        else
            break
        fi
    done
fi

echo
echo "== Switchboard IVR load ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)): callers in the demo flow's menu"
echo "   (notice, lookup, calendar branch, menu; key 1 by RFC 4733, then prompts), ${HOLD_SECONDS} s held, entering at $RAMP_RATE/s"
echo "   late = RTP packets > ${LATE_MS} ms behind their schedule; CPU = switch utime+stime in the hold / packets sent in it"
printf '%7s %7s %6s %7s %7s %7s %6s %7s %6s %7s %9s %8s %7s   %s\n' callers ok failed "in menu" late "late in" \
    "pauses" skipped "cap" "max" "CPU" "entry" "others" result
printf '%7s %7s %6s %7s %7s %7s %6s %7s %6s %7s %9s %8s %7s\n' "" "" "" "" ">${LATE_MS}ms" pauses ">${LATE_MS}ms" frames \
    drops "late ms" "us/pkt" "calls/s" "CPU %"
for l in "${level_rows[@]}"; do echo "$l"; done
if ((${#entry_rows[@]} > 0)); then
    echo
    echo "entry test: $entry_n callers offered at each rate, each leaving 2 s after its key"
    printf '%7s %7s %7s %6s %7s %10s %7s %7s %6s %7s %6s %7s %7s   %s\n' offered callers ok failed "in menu" "answered" \
        late "late in" pauses skipped "cap" "max" "others" result
    printf '%7s %7s %7s %6s %7s %10s %7s %7s %6s %7s %6s %7s %7s\n' "calls/s" "" "" "" "" "calls/s" ">${LATE_MS}ms" \
        pauses ">${LATE_MS}ms" frames drops "late ms" "CPU %"
    for l in "${entry_rows[@]}"; do echo "$l"; done
fi
echo "pauses: stretches > ${LATE_MS} ms during which the machine itself stopped: a real-time probe beside the switch"
echo "  (benches/pause_probe.py) could not run either; 'late in pauses': late packets those pauses account for."
echo "  PASS* = every check passed but some packets were late, all of them inside such pauses."
echo "others CPU % = mean/max over 1 s samples of the machine's CPU (all cores) taken by processes other than the"
echo "  switch, SIPp and tcpdump: a build or tests beside the bench delay the switch's packets too."
echo
missed=0
if ((best == 0)); then
    echo "RESULT: no level held with 0 late packets (target $CALLERS_TARGET concurrent callers)"
else
    printf 'RESULT: highest level held for %d s with 0 failed calls and 0 late packets: %d concurrent callers (target %d): %s\n' \
        "$HOLD_SECONDS" "$best" "$CALLERS_TARGET" "$( ((best >= CALLERS_TARGET)) && echo met || echo MISSED)"
    printf 'RESULT: CPU per prompt packet sent at %d callers: %s us (target <= %d us): %s\n' "$best" \
        "$(fmt_us "$best_cpu_ns")" $((CPU_TARGET_NS / 1000)) "$( ((best_cpu_ns <= CPU_TARGET_NS)) && echo met || echo MISSED)"
fi
((best >= CALLERS_TARGET && best > 0 && best_cpu_ns <= CPU_TARGET_NS)) || missed=1
if ((best_paused > best)); then
    printf 'RESULT: highest level held with 0 failed calls and no late packet but in the machine'"'"'s own pauses: %d concurrent callers; CPU per packet there: %s us\n' \
        "$best_paused" "$(fmt_us "$best_paused_cpu_ns")"
fi
if [[ -n "$ENTRY_RATES" ]]; then
    if ((entry_best > 0)); then
        echo "RESULT: entry rate: $entry_best calls/s offered, all $entry_n callers answered and in the menu, 0 late packets"
    else
        echo "RESULT: entry rate: no rate of $ENTRY_RATES passed with $entry_n callers and 0 late packets"
    fi
    if ((entry_best_paused > entry_best)); then
        echo "RESULT: entry rate, late packets only in the machine's own pauses: $entry_best_paused calls/s"
    fi
fi
if [[ "$ENFORCE_TARGETS" == 1 && $missed == 1 ]]; then
    exit 3
fi
exit 0
