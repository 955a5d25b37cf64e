#!/usr/bin/env bash
# Contact-center load benchmark (issue 5), driven by SIPp: callers through
# an ACD queue to answering agents, then many callers waiting in a queue.
#
# Builds Switchboard (release) and generates its own configuration in a
# temporary folder: the repository's demo (switchboard.toml, sip-profiles/,
# ivr-flows/, contact-center/) moved to other ports, flood defence lifted,
# the media timeout lifted (no side sends RTP), plus:
#   - AGENTS agents 2000.. (SIP users pw2000.. on the `agents` profile; in
#     contact-center/agents.toml, each with the one skill `bench`);
#   - the queue `bench` (longest-idle, wrap-up 0 s, ring timeout
#     RING_SECONDS, no position announcements, join_empty, a maximum wait
#     longer than any caller stays);
#   - the flow `acd_bench` (ivr-flows/acd_bench.toml) whose entry is the
#     queue node for `bench` (no prompt, no lookup before it: the bench
#     measures the switch's SIP + ACD path), on number 300 of the carrier
#     trunk.
#
# Phase 1, calls through the queue (one switch for every rate of RATES):
#   - agents' phones: one SIPp UAS (benches/sipp/acd_agent.xml) answers
#     every INVITE with 180 and 200 + SDP, talks for HOLD_MS and hangs up
#     (BYE). Every agent user is registered (benches/sipp/register_users.xml,
#     digest MD5) with a Contact on that UAS's port, then logged in with
#     `switchboard agent ID ready` (one command per agent: the request goes
#     to the database and the switch applies it on SIGHUP); the bench waits
#     until `switchboard agents` shows them all available. That set-up is
#     timed and printed, not counted.
#   - callers: SIPp UAC (benches/sipp/acd_caller.xml) on the carrier trunk
#     at RATE calls/s for RATE * LEVEL_SECONDS calls. The switch answers
#     each caller itself (the flow), puts them in the queue (music on hold),
#     the ACD offers them to an available agent, the agent answers, is
#     bridged, hangs up after HOLD_MS, and the switch hangs the caller up:
#     the caller's scenario ends when that BYE arrives. As everywhere in
#     the switch, every bridged call is recorded (stereo WAV under the
#     temporary folder's recordings/; a flow without a notice records).
#   - per rate: SIPp's successful and failed calls (caller and agent side),
#     the INVITE -> 200 time (SIPp's per-call response times, -trace_rtt:
#     the switch answering the caller), and from the CDRs (`switchboard
#     calls --json`): calls whose journal shows "answered by AGENT", offers
#     an agent did not answer or had no phone for, the time from the INVITE
#     to the agent's answer (queue + offer + ring), and the rate callers
#     reached agents (answers / the span of their answer times). CPU: the
#     switch's utime + stime (/proc/PID/stat) from the callers' first
#     INVITE to the last call's end, divided by the calls; beside it the
#     switch's share of one core and SIPp's (callers + agents), so that a
#     SIPp at its limit is not taken for the switch's. A rate passes when
#     every call succeeded on both sides, every caller was answered by an
#     agent, no offer was missed, and callers reached agents at >=
#     MIN_ACHIEVED percent of the offered rate. The log also shows, per
#     rate, the medians of each call's steps (INVITE > joined the queue >
#     offered to an agent > the agent's 200 > the call journals the answer,
#     after starting the recording), SIPp's retransmissions (on loopback, a
#     reply or ACK more than 500 ms late; an agent's BYE answered late keeps
#     that agent busy) and the switch's CPU by thread (tokio workers,
#     SQLite's worker threads): where a rate that fails loses its time.
#
# Phase 2, concurrent waiting callers: for each N of WAITING, a fresh switch
# (nobody logged in) and N callers entering at WAIT_RATE/s (SIPp,
# benches/sipp/uac_call.xml); each stays until all N have been in the
# queue for HOLD_SECONDS, hearing music on hold, then hangs up. Checked: no
# SIPp failure (a BYE from the switch while waiting fails the call), the
# switch's own count of callers waiting (`switchboard queues --json`) is N
# when the hold starts and when it ends, and every CDR shows the caller
# joined the queue and hung up themselves. Reported: the switch's RSS
# (before the callers, with all N waiting; KiB per waiting caller), its
# CPU over the hold (music on hold to N callers: 50 packets/s each), and
# the UDP datagrams the machine sent per caller per second during the hold
# (/proc/net/snmp: the whole machine, so only a sanity check that the
# music flows; SIPp sends nothing then). All callers advertise SIPp's one
# media port, which SIPp does not read: the kernel drops the music once its
# receive buffer is full.
#
# Reading the output: one line per rate and per N while it runs, then a
# summary table and RESULT lines: the highest rate that passed (target:
# 200 calls/s through the queue to an agent with 0 failed calls) and the
# most concurrent waiting callers held with 0 failed calls. "%core" is a
# process's CPU time over the wall time (100 = one core busy; this machine
# has 2). "others CPU %" is the share of the whole machine (all cores =
# 100) taken by processes other than the switch and SIPp, mean/max over
# 1 s samples: a build beside the bench skews every figure, so each rate
# and level first waits (at most QUIET_WAIT s) for the machine to be quiet. The
# switch's database is in the temporary folder (TMPDIR, /tmp by default:
# the disk); the ACD stores every agent transition and queue stay there
# before going on, so a TMPDIR on tmpfs (/dev/shm) gives higher rates than
# a deployment's disk would.
#
# Usage:  bash benches/acd_load.sh
# Environment (defaults in brackets):
#   RATES          offered calls/s, ascending ["50 100 200"] ("" skips phase 1)
#   LEVEL_SECONDS  seconds of calls per rate [15]
#   AGENTS         agents (and SIP users) 2000.. [400]; busy agents at a
#                  rate are about RATE * HOLD_MS / 1000
#   HOLD_MS        how long an agent talks before hanging up [1000]
#   RING_SECONDS   the queue's ring timeout (5 to 120) [5]
#   REG_RATE       registrations per second at set-up [200]
#   WAITING        concurrent waiting callers to try, ascending ["500 1000 2000"]
#                  ("" skips phase 2)
#   WAIT_RATE      calls/s at which waiting callers enter [200]
#   HOLD_SECONDS   how long all N callers wait together [20]
#   MIN_ACHIEVED   percent of the offered rate callers must reach agents at [90]
#   QUIET_WAIT     before each rate and level, wait at most this long (s)
#                  for the machine to be under QUIET_PERCENT [15] busy for
#                  3 s [60; 0: never]
#   CARRIER_PORT [31080] AGENTS_PORT [31060] UAS_PORT (the agents' phones) [31070]
#   UAC_PORT       first of 3 local ports of the SIPp clients [31090]
#   MEDIA_PORT     first of SIPp's media ports (steps of 10) [31100]
#   RTP_PORTS      the switch's [media] rtp_ports ["40000-49999"]
#   SWITCHBOARD_BIN  binary to run [$CARGO_TARGET_DIR or target, /release/switchboard]
#   SKIP_BUILD=1   do not run cargo build
#   KEEP=1         keep the work folder (logs, SIPp statistics, CDR JSON)
#   ENFORCE_TARGETS=1  exit 3 when the 200 calls/s target is missed
# Needs: sipp (sip-tester), python3. Everything listens on 127.0.0.1.
# Exit: 0 when the measurements ran, 1 when the switch or SIPp could not be
# started or set up, 3 when the target was missed and ENFORCE_TARGETS=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scen="$root/benches/sipp"

RATES="${RATES-50 100 200}"
LEVEL_SECONDS="${LEVEL_SECONDS:-15}"
AGENTS="${AGENTS:-400}"
HOLD_MS="${HOLD_MS:-1000}"
RING_SECONDS="${RING_SECONDS:-5}"
REG_RATE="${REG_RATE:-200}"
WAITING="${WAITING-500 1000 2000}"
WAIT_RATE="${WAIT_RATE:-200}"
HOLD_SECONDS="${HOLD_SECONDS:-20}"
MIN_ACHIEVED="${MIN_ACHIEVED:-90}"
QUIET_WAIT="${QUIET_WAIT:-60}"
QUIET_PERCENT="${QUIET_PERCENT:-15}"
CARRIER_PORT="${CARRIER_PORT:-31080}"
AGENTS_PORT="${AGENTS_PORT:-31060}"
UAS_PORT="${UAS_PORT:-31070}"
UAC_PORT="${UAC_PORT:-31090}"
MEDIA_PORT="${MEDIA_PORT:-31100}"
RTP_PORTS="${RTP_PORTS:-40000-49999}"
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-}"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP="${KEEP:-0}"
ENFORCE_TARGETS="${ENFORCE_TARGETS:-0}"

RATE_TARGET=200
FIRST_AGENT=2000
NUMBER=300 # the bench flow's number on the carrier trunk
QUEUE=bench
LO=127.0.0.1
SIPP_COMMON=(-nostdin -i "$LO" -mi "$LO")

log() { printf '[acd_load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in LEVEL_SECONDS AGENTS HOLD_MS RING_SECONDS REG_RATE WAIT_RATE HOLD_SECONDS MIN_ACHIEVED \
    QUIET_PERCENT CARRIER_PORT AGENTS_PORT UAS_PORT UAC_PORT MEDIA_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ "$QUIET_WAIT" =~ ^[0-9]+$ ]] || die "QUIET_WAIT must be a number of seconds (got '$QUIET_WAIT')"
((RING_SECONDS >= 5 && RING_SECONDS <= 120)) || die "RING_SECONDS must be 5 to 120 (the queue's ring_timeout_seconds)"
for n in $RATES $WAITING; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "RATES and WAITING must be positive integers (got '$n')"
done
[[ "$RTP_PORTS" =~ ^([0-9]+)-([0-9]+)$ ]] || die "RTP_PORTS must be FIRST-LAST (got '$RTP_PORTS')"
rtp_legs=$(((BASH_REMATCH[2] - BASH_REMATCH[1] + 1) / 2))
command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester; bash scripts/install-deps.sh)"
command -v python3 >/dev/null || die "python3 not found (it reads the CDRs)"
for f in acd_caller.xml acd_agent.xml register_users.xml uac_call.xml; do
    [[ -f "$scen/$f" ]] || die "missing scenario $scen/$f"
done
most_waiting=0
for n in $WAITING; do ((n > most_waiting)) && most_waiting=$n; done
top_rate=0
for r in $RATES; do ((r > top_rate)) && top_rate=$r; done
# Each waiting caller holds one leg (2 ports); a bridged call two.
busy=$((top_rate * (HOLD_MS + 1000) / 1000))
((rtp_legs >= most_waiting && rtp_legs >= 2 * busy)) ||
    die "RTP_PORTS $RTP_PORTS holds $rtp_legs legs: too few for $most_waiting waiting callers or $busy calls at $top_rate/s"
nofile_hard="$(ulimit -Hn)"
[[ "$nofile_hard" == unlimited ]] || ((nofile_hard >= 2 * most_waiting + 1000)) ||
    die "the open files limit (ulimit -Hn = $nofile_hard) is too low for $most_waiting waiting callers"
((AGENTS * 4000 >= top_rate * HOLD_MS * 5)) ||
    log "warning: $AGENTS agents for $top_rate calls/s talking $HOLD_MS ms: callers will wait for a free agent"

work="$(mktemp -d "${TMPDIR:-/tmp}/acd_load.XXXXXX")"
log "work folder: $work"

# shellcheck source=benches/lib.sh
source "$root/benches/lib.sh"

install_cleanup
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-$(release_bin)}"
CLK_TCK="$(getconf CLK_TCK)"

# The longest any caller stays in the queue: phase 2's last caller, with a
# margin; the queue's maximum wait is above it.
stay_s=$(((most_waiting + WAIT_RATE - 1) / WAIT_RATE + HOLD_SECONDS + 10))
MAX_WAIT=$((stay_s + 120))

agents_csv="$work/agents.csv"
{
    echo SEQUENTIAL
    for ((a = FIRST_AGENT; a < FIRST_AGENT + AGENTS; a++)); do
        echo "$a;pw$a;[authentication username=$a password=pw$a]"
    done
} >"$agents_csv"

# --------------------------------------------------------- configuration
# make_config DIR: the bench's configuration in DIR (a fresh database).
make_config() {
    local cfg="$1"
    bench_config "$cfg" '"warn"' udp
    local sw="$cfg/switchboard.toml"
    toml_set "$sw" media rtp_ports "\"$RTP_PORTS\""
    # Neither SIPp side sends RTP: no media timeout during a run.
    toml_set "$sw" media media_timeout_seconds 7200
    toml_set "$sw" limits max_transactions 1000000
    toml_set "$cfg/sip-profiles/carrier.toml" routing.numbers "\"$NUMBER\"" '"flow:acd_bench"'
    cat >"$cfg/ivr-flows/acd_bench.toml" <<EOF
# Generated by benches/acd_load.sh: straight into the queue.
entry = "queue"

[nodes.queue]
type = "queue"
queue = "$QUEUE"
no_answer = "end"

[nodes.end]
type = "hangup"
EOF
    local a
    {
        echo
        echo "# Benchmark agents (benches/acd_load.sh)."
        for ((a = FIRST_AGENT; a < FIRST_AGENT + AGENTS; a++)); do
            printf '\n[[users]]\nextension = "%s"\npassword = "pw%s"\n' "$a" "$a"
        done
    } >>"$cfg/sip-profiles/agents.toml"
    {
        echo
        echo "# Benchmark agents (benches/acd_load.sh)."
        for ((a = FIRST_AGENT; a < FIRST_AGENT + AGENTS; a++)); do
            printf '\n[[agent]]\nid = "%s"\nname = "Bench %s"\nteam = "bench"\nskills = { %s = 5 }\n' \
                "$a" "$a" "$QUEUE"
        done
    } >>"$cfg/contact-center/agents.toml"
    cat >>"$cfg/contact-center/queues.toml" <<EOF

# Benchmark queue (benches/acd_load.sh).
[queue.$QUEUE]
skills = { $QUEUE = 1 }
strategy = "longest-idle"
ring_timeout_seconds = $RING_SECONDS
wrap_up_seconds = 0
max_wait_seconds = $MAX_WAIT
join_empty = true
announce_every_seconds = 0
EOF
    check_config "$cfg" acd_bench "$cfg.check.log"
}

# start_switch CONFIG LOG: launches the switch and waits for its pid file
# (what `switchboard agent` signals).
start_switch() {
    local cfg="$1" logf="$2" port
    for port in "$CARRIER_PORT" "$AGENTS_PORT" "$UAS_PORT" "$UAC_PORT" "$((UAC_PORT + 1))" "$((UAC_PORT + 2))"; do
        udp_listening "$port" && die "UDP port $port is already in use on $LO (a demo or another benchmark?); set the *_PORT variables"
    done
    launch_switch "$cfg" "$logf" "$CARRIER_PORT" "$AGENTS_PORT"
    local _
    for _ in $(seq 100); do
        [[ -f "$cfg/switchboard.pid" ]] && return 0
        sleep 0.1
    done
    die "the switch wrote no pid file ($cfg/switchboard.pid) within 10 s"
}

# sipp_child PID: the sipp process that `timeout` PID runs (PID itself
# when none is found).
sipp_child() {
    local c="" _
    for _ in $(seq 20); do
        c="$(pgrep -P "$1" -x sipp || true)"
        [[ -n "$c" ]] && break
        sleep 0.1
    done
    echo "${c:-$1}"
}

# ------------------------------------------------------------- CDR figures
# cdr_queue CONFIG SIPP_PID LIMIT OUT: figures of the calls of one SIPp
# caller run (Call-IDs "N-PID@..."), from the newest LIMIT CDRs:
# "calls ended answered missed by_agent by_switch joined waited_too_long
#  to_agent_p50 p95 max (ms) reach_rate_x100 stages", stages being the
# medians (ms) of the answered calls' steps, from their journal and answer
# time: "start>joined/joined>offered/offered>agent's 200/200>answered by"
# (the last one is the call's work after the agent's answer, before it
# journals it: starting the recording).
cdr_queue() {
    "$SWITCHBOARD_BIN" calls --config "$1" --json --limit "$3" >"$4"
    python3 - "$4" "$2" <<'EOF'
import json, sys
calls = [c for c in json.load(open(sys.argv[1])) if f"-{sys.argv[2]}@" in c["call_id"]]
def queue_events(c):
    return [e for e in c.get("events") or [] if e.get("kind") == "queue"]
ended = answered = missed = by_agent = by_switch = joined = too_long = 0
to_agent, at, stages = [], [], [[], [], [], []]
def first(ev, test):
    return next((e["at"] for e in ev if test(e["detail"])), None)
for c in calls:
    ev = queue_events(c)
    if c.get("ended_at"):
        ended += 1
    if any(": joined" in e["detail"] for e in ev):
        joined += 1
    if any(e["detail"].endswith("waited too long") or "waited too long," in e["detail"] for e in ev):
        too_long += 1
    missed += sum(1 for e in ev if e["detail"].endswith(" did not answer") or e["detail"].endswith(" has no phone"))
    ans = next((e for e in ev if e["detail"].startswith("answered by ")), None)
    if ans and c.get("agent"):
        answered += 1
        at.append(ans["at"])
        to_agent.append(ans["at"] - c["started_at"])
        j = first(ev, lambda d: ": joined" in d)
        o = first(ev, lambda d: d.startswith("offered to "))
        a200 = c.get("answered_at")
        if j is not None and o is not None and a200:
            steps = ((c["started_at"], j), (j, o), (o, a200), (a200, ans["at"]))
            for i, (a, b) in enumerate(steps):
                stages[i].append(b - a)
    by_agent += c.get("hangup_by") == "agent"
    by_switch += c.get("hangup_by") == "switch"
def pct(v, p):
    if not v:
        return 0
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * len(v)))]
at.sort()
rate = int(100 * (len(at) - 1) * 1000 / (at[-1] - at[0])) if len(at) > 1 and at[-1] > at[0] else 0
print(len(calls), ended, answered, missed, by_agent, by_switch, joined, too_long,
      pct(to_agent, 50), pct(to_agent, 95), max(to_agent, default=0), rate,
      "/".join(str(pct(s, 50)) for s in stages))
EOF
}

# rtt_figures DIR: "p50 p95 max" of the INVITE -> 200 times (ms) of a SIPp
# run's -trace_rtt file(s).
rtt_figures() {
    local f files=()
    for f in "$1"/*_rtt.csv; do [[ -f "$f" ]] && files+=("$f"); done
    ((${#files[@]} > 0)) || { echo "- - -"; return 0; }
    python3 - "${files[@]}" <<'EOF'
import sys
v = []
for name in sys.argv[1:]:
    for line in open(name):
        f = line.strip().split(";")
        try:
            v.append(float(f[1]))
        except (IndexError, ValueError):
            pass
v.sort()
if not v:
    print("- - -")
else:
    p = lambda q: v[min(len(v) - 1, int(q / 100 * len(v)))]
    print(f"{p(50):.1f} {p(95):.1f} {v[-1]:.1f}")
EOF
}

# agents_in STATE CONFIG: how many bench agents `switchboard agents` shows in STATE.
agents_in() {
    "$SWITCHBOARD_BIN" agents --config "$2" --json |
        python3 -c 'import json, sys; print(sum(1 for a in json.load(sys.stdin) if a["team"] == "bench" and a["state"] == sys.argv[1]))' "$1"
}

# wait_agents STATE CONFIG SECONDS [NUDGE]: true once every bench agent is
# in STATE. NUDGE=1: signal the switch again (SIGHUP, as `switchboard
# agent` does) every 2 s until then: a SIGHUP whose reading of the pending
# requests failed (the switch logs "agent requests not read: ... database
# is locked" when a command wrote at that moment) leaves them for the next.
wait_agents() {
    local deadline=$(($(now_ms) + $3 * 1000)) n=0 i=0
    while (($(now_ms) < deadline)); do
        n="$(agents_in "$1" "$2")"
        ((n >= AGENTS)) && return 0
        i=$((i + 1))
        if [[ "${4:-0}" == 1 ]] && ((i % 4 == 0)); then kill -HUP "$switch_pid" 2>/dev/null || true; fi
        sleep 0.5
    done
    log "only $n of $AGENTS agents are $1 after $3 s"
    return 1
}

# waiting_now CONFIG: callers the switch counts waiting in the bench queue.
waiting_now() {
    "$SWITCHBOARD_BIN" queues --config "$1" --json |
        python3 -c 'import json, sys; print(next((q["waiting"] for q in json.load(sys.stdin) if q["queue"] == sys.argv[1]), 0))' "$QUEUE"
}

# snmp_udp_out: the machine's UDP datagrams sent so far.
snmp_udp_out() {
    awk '$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) if ($i == "OutDatagrams") c = i; h = 1; next }
         $1 == "Udp:" && h { print $c; exit }' /proc/net/snmp
}

# threads_snapshot PID: one line per thread of PID: "TID TICKS NAME"
# (utime + stime from /proc/PID/task/TID/stat; the name is the thread's comm).
threads_snapshot() {
    local f
    for f in /proc/"$1"/task/*/stat; do
        awk '{ l = $0; i = index(l, "("); j = length(l); while (substr(l, j, 1) != ")") j--
               name = substr(l, i + 1, j - i - 1); gsub(/ /, "_", name)
               split(substr(l, j + 2), r, " "); print $1, r[12] + r[13], name }' "$f" 2>/dev/null || true
    done
}

# threads_busiest BEFORE AFTER MS: a process's CPU by thread name (% of
# one core) between two snapshots, the busiest first, and its busiest
# single thread: one task saturating a thread shows there.
threads_busiest() {
    awk -v ms="$3" -v k="$CLK_TCK" '
        FNR == NR { before[$1] = $2; next }
        { d = $2 - before[$1]; by[$3] += d; if (d > top) { top = d; topname = $3 } }
        END {
            for (name in by) if (by[name] > 0) printf "%d %s\n", by[name], name
            printf "0 ~%s:%.0f%%\n", topname, top / k * 100000 / ms
        }' "$1" "$2" |
        sort -rn | awk -v ms="$3" -v k="$CLK_TCK" '
            $2 ~ /^~/ { last = substr($2, 2); next }
            { out = out sprintf("%s%s:%.0f%%", (out == "" ? "" : " "), $2, $1 / k * 100000 / ms) }
            END { print out "; busiest thread " last }'
}

# pct_of TICKS MS: CPU ticks as a percentage of one core over MS of wall time.
pct_of() { awk -v t="$1" -v ms="$2" -v k="$CLK_TCK" 'BEGIN { printf "%.0f", (ms > 0 ? t / k * 100000 / ms : 0) }'; }

# ------------------------------------------------------------ phase 1
uas_dir=""
uas_pid=""
setup_note=""
# setup_agents CONFIG: the agents' UAS, every agent registered and ready.
setup_agents() {
    local cfg="$1"
    uas_dir="$work/agents-uas"
    mkdir -p "$uas_dir"
    (cd "$uas_dir" && exec timeout 7200 sipp "${SIPP_COMMON[@]}" -sf "$scen/acd_agent.xml" -p "$UAS_PORT" \
        -d "$HOLD_MS" -l 10000 -mp "$((MEDIA_PORT + 10))" -trace_stat -stf stat.csv -fd 1 \
        -trace_err -error_file err.log >stdout.log 2>&1) &
    pids+=($!)
    uas_pid="$(sipp_child $!)"
    local _
    for _ in $(seq 50); do
        udp_listening "$UAS_PORT" && break
        sleep 0.1
    done
    udp_listening "$UAS_PORT" || die "the agents' SIPp UAS did not start on $LO:$UAS_PORT: $(cat "$uas_dir/stdout.log")"

    local t0 t1 t2 dir="$work/register"
    mkdir -p "$dir"
    t0="$(now_ms)"
    (cd "$dir" && timeout $((AGENTS / REG_RATE + 60)) sipp "${SIPP_COMMON[@]}" "$LO:$AGENTS_PORT" \
        -sf "$scen/register_users.xml" -inf "$agents_csv" -key contact_port "$UAS_PORT" -key expires 3600 \
        -r "$REG_RATE" -rp 1000 -m "$AGENTS" -l "$AGENTS" -p "$((UAC_PORT + 1))" -mp "$((MEDIA_PORT + 20))" \
        -timeout "$((AGENTS / REG_RATE + 45))s" -timeout_error -trace_stat -stf stat.csv -fd 1 \
        -trace_err -error_file err.log >stdout.log 2>&1) || true
    local ok
    ok="$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')"
    ((ok == AGENTS)) || die "only $ok of $AGENTS agents registered (see $dir: $(head -c 600 "$dir/err.log" 2>/dev/null))"
    t1="$(now_ms)"
    local a
    for ((a = FIRST_AGENT; a < FIRST_AGENT + AGENTS; a++)); do
        "$SWITCHBOARD_BIN" agent "$a" ready --config "$cfg" >>"$work/login.log" 2>&1 ||
            die "switchboard agent $a ready failed: $(tail -n 3 "$work/login.log")"
    done
    wait_agents available "$cfg" 30 1 || die "the agents did not all become available (see $work/login.log)"
    t2="$(now_ms)"
    setup_note="$AGENTS agents registered in $(fmt_s $((t1 - t0))) s, logged in (switchboard agent ID ready, one command each) in $(fmt_s $((t2 - t1))) s"
    log "$setup_note"
}

fmt_s() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

rate_rows=()
rate_best=0
# run_rate CONFIG RATE: one level of phase 1.
run_rate() {
    local cfg="$1" rate="$2"
    local count=$((rate * LEVEL_SECONDS))
    local dir="$work/rate.$rate"
    mkdir -p "$dir"
    # A caller waits for their BYE at most this long (queue, ring, talk).
    local recv_ms=$((HOLD_MS + 2 * RING_SECONDS * 1000 + 30000))
    local budget=$((LEVEL_SECONDS * 2 + recv_ms / 1000 + 30))
    local limit=$((count < 10000 ? count : 10000))
    local uas_ok0 uas_failed0
    uas_ok0="$(stat_col "$uas_dir/stat.csv" 'SuccessfulCall(C)')"
    uas_failed0="$(stat_col "$uas_dir/stat.csv" 'FailedCall(C)')"
    local uas_retrans0
    uas_retrans0="$(stat_col "$uas_dir/stat.csv" 'Retransmissions(C)')"
    local t0 t1 k0 k1 u0 u1 c1=0 rc=0
    threads_snapshot "$switch_pid" >"$dir/threads.before"
    t0="$(now_ms)"
    k0="$(cpu_ticks "$switch_pid")"
    u0="$(cpu_ticks "$uas_pid")"
    (cd "$dir" && exec timeout $((budget + 15)) sipp "${SIPP_COMMON[@]}" "$LO:$CARRIER_PORT" \
        -sf "$scen/acd_caller.xml" -s "$NUMBER" -r "$rate" -rp 1000 -m "$count" -l "$limit" \
        -p "$UAC_PORT" -mp "$MEDIA_PORT" -recv_timeout "$recv_ms" -timeout "${budget}s" -timeout_error \
        -trace_stat -stf stat.csv -fd 1 -trace_rtt -rtt_freq 1 -trace_err -error_file err.log \
        -trace_screen -screen_file screen.log >stdout.log 2>&1) &
    local sp=$!
    pids+=("$sp")
    local caller_pid
    caller_pid="$(sipp_child "$sp")"
    start_sampler "$dir/cpu.samples" "$switch_pid" "$uas_pid" "$caller_pid"
    # The caller SIPp's CPU, sampled until it exits (its /proc entry goes).
    while kill -0 "$caller_pid" 2>/dev/null; do
        c1="$(cpu_ticks "$caller_pid")"
        sleep 0.2
    done
    wait "$sp" || rc=$?
    forget_pid "$sp"
    t1="$(now_ms)"
    k1="$(cpu_ticks "$switch_pid")"
    u1="$(cpu_ticks "$uas_pid")"
    threads_snapshot "$switch_pid" >"$dir/threads.after"
    stop_sampler
    local others_mean others_max
    read -r others_mean others_max < <(others_cpu "$dir/cpu.samples")

    local ok failed
    ok="$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')"
    failed="$(stat_col "$dir/stat.csv" 'FailedCall(C)')"
    # Every CDR closed (at most 40 s), then the figures.
    local figures="" _ calls=0 ended=0 answered=0 missed=0 by_agent=0 by_switch=0 joined=0 too_long=0
    local ta50=0 ta95=0 tamax=0 reach=0 stages=-
    for _ in $(seq 40); do
        figures="$(cdr_queue "$cfg" "$caller_pid" $((count + 100)) "$dir/cdrs.json")"
        read -r _ ended _ <<<"$figures"
        ((ended >= ok + failed)) && break
        sleep 1
    done
    read -r calls ended answered missed by_agent by_switch joined too_long ta50 ta95 tamax reach stages <<<"$figures"
    # The UAS's statistics are written once a second.
    sleep 1.5
    local uas_ok uas_failed
    uas_ok=$(($(stat_col "$uas_dir/stat.csv" 'SuccessfulCall(C)') - uas_ok0))
    uas_failed=$(($(stat_col "$uas_dir/stat.csv" 'FailedCall(C)') - uas_failed0))
    local r50 r95 rmax
    read -r r50 r95 rmax < <(rtt_figures "$dir")
    local retrans uas_retrans
    retrans="$(stat_col "$dir/stat.csv" 'Retransmissions(C)')"
    uas_retrans=$(($(stat_col "$uas_dir/stat.csv" 'Retransmissions(C)') - uas_retrans0))
    local wall=$((t1 - t0))
    local cpu_us=0
    ((count > 0)) && cpu_us=$(((k1 - k0) * 1000000 / CLK_TCK / count))
    local sw_pct sipp_pct
    sw_pct="$(pct_of $((k1 - k0)) "$wall")"
    sipp_pct="$(pct_of $((c1 + u1 - u0)) "$wall")"

    local why=""
    ((rc == 0)) || why+=" sipp-exit-$rc"
    ((ok == count)) || why+=" only-$ok-of-$count-ok"
    ((failed == 0)) || why+=" $failed-failed"
    ((uas_failed == 0)) || why+=" $uas_failed-failed-at-agents"
    ((answered == count)) || why+=" $((count - answered))-not-answered-by-an-agent"
    ((missed == 0)) || why+=" $missed-offers-missed"
    ((by_switch == 0)) || why+=" $by_switch-hung-up-by-switch"
    ((reach * 100 >= rate * 100 * MIN_ACHIEVED)) || why+=" reached-agents-at-$(awk -v r="$reach" 'BEGIN { printf "%.1f", r / 100 }')/s"
    local verdict=PASS
    [[ -z "$why" ]] || verdict="FAIL:$why"
    local row
    row="$(printf '%7d %6d %6d %6d %6d %7d %6s %9s %6s %6s %6d %6d %6d %6s %5s %5s   %s' \
        "$rate" "$count" "$ok" "$failed" "$uas_failed" "$answered" "$(awk -v r="$reach" 'BEGIN { printf "%.1f", r / 100 }')" \
        "$r50/$r95" "$rmax" "$ta50" "$ta95" "$tamax" "$cpu_us" "$sw_pct" "$sipp_pct" "$others_mean/$others_max" "$verdict")"
    rate_rows+=("$row")
    log "rate $rate/s: $row"
    log "rate $rate/s: $calls CDRs, agents answered $uas_ok, hung up by agent $by_agent, $((wall / 1000)) s from the first INVITE to the last call's end"
    log "rate $rate/s: median ms INVITE>joined/joined>offered/offered>agent's 200/200>journaled answer: $stages; SIPp retransmissions (a reply or ACK over 500 ms late): callers $retrans, agents $uas_retrans"
    log "rate $rate/s: the switch's threads (% of one core): $(threads_busiest "$dir/threads.before" "$dir/threads.after" "$wall")"
    if [[ -s "$dir/err.log" && "$verdict" != PASS ]]; then
        log "rate $rate/s: SIPp errors (callers): $(awk 'NR > 1 && NR <= 4' "$dir/err.log" | cut -c1-200)"
    fi
    if [[ -s "$uas_dir/err.log" && $uas_failed -gt 0 ]]; then
        log "rate $rate/s: SIPp errors (agents): $(tail -n 3 "$uas_dir/err.log" | cut -c1-200)"
    fi
    if [[ "$verdict" == PASS ]]; then
        rate_best="$rate"
    fi
    [[ "$verdict" == PASS ]]
}

phase1() {
    local cfg="$work/config.calls"
    make_config "$cfg"
    start_switch "$cfg" "$work/switch.calls.log"
    log "phase 1: switch pid $switch_pid; $AGENTS agents talking $HOLD_MS ms; rates: $RATES, $LEVEL_SECONDS s each"
    setup_agents "$cfg"
    local rate
    for rate in $RATES; do
        wait_quiet
        log "rate $rate/s: $((rate * LEVEL_SECONDS)) callers"
        run_rate "$cfg" "$rate" || true
        # Every agent free again before the next rate (wrap-up is 0 s).
        wait_agents available "$cfg" 30 || log "rate $rate/s: agents left busy; the next rate starts anyway"
        nap 2
    done
    local errs
    errs="$(grep -E ' (ERROR|WARN) |panicked' "$work/switch.calls.log" | grep -vc 'key for personal data' || true)"
    ((errs == 0)) || log "phase 1: $errs warnings/errors in the switch's log ($work/switch.calls.log)"
    stop_started
}

# ------------------------------------------------------------ phase 2
wait_rows=()
wait_best=0
# run_waiting N: N callers waiting in the queue together for HOLD_SECONDS.
run_waiting() {
    local n="$1"
    local cfg="$work/config.wait.$n" dir="$work/wait.$n"
    mkdir -p "$dir"
    make_config "$cfg"
    wait_quiet
    start_switch "$cfg" "$dir/switch.log"
    nap 1
    local rss0
    rss0="$(rss_kib "$switch_pid")"
    local ramp_s=$(((n + WAIT_RATE - 1) / WAIT_RATE))
    local stay_ms=$(((ramp_s + HOLD_SECONDS + 10) * 1000))
    local budget=$((2 * ramp_s + stay_ms / 1000 + 60))
    (cd "$dir" && exec timeout $((budget + 15)) sipp "${SIPP_COMMON[@]}" "$LO:$CARRIER_PORT" \
        -sf "$scen/uac_call.xml" -s "$NUMBER" -d "$stay_ms" -r "$WAIT_RATE" -rp 1000 -l "$n" -m "$n" \
        -p "$((UAC_PORT + 2))" -mp "$((MEDIA_PORT + 30))" -timeout "${budget}s" -timeout_error \
        -trace_stat -stf stat.csv -trace_counts -fd 1 -trace_err -error_file err.log \
        >stdout.log 2>&1) &
    local sp=$!
    pids+=("$sp")
    local caller_pid
    caller_pid="$(sipp_child "$sp")"
    start_sampler "$dir/cpu.samples" "$switch_pid" "$caller_pid"
    # Every caller answered and waiting (in the scenario's pause).
    local deadline=$(($(now_ms) + (2 * ramp_s + 30) * 1000)) in_pause=0 counts="" f
    while :; do
        for f in "$dir"/*_counts.csv; do [[ -f "$f" ]] && counts="$f"; done
        [[ -n "$counts" ]] && in_pause="$(counts_col "$counts" _Pause_Sessions)"
        ((in_pause >= n)) && break
        if ! kill -0 "$sp" 2>/dev/null || (($(now_ms) > deadline)); then
            log "waiting $n: only $in_pause of $n callers got into the queue"
            break
        fi
        sleep 0.5
    done
    local k0=0 k1=0 w0=0 w1=0 o0=0 o1=0 q0=0 q1=0 rss1=0 anon1=0 left=0
    if ((in_pause >= n)); then
        nap 1
        q0="$(waiting_now "$cfg")"
        threads_snapshot "$switch_pid" >"$dir/threads.before"
        k0="$(cpu_ticks "$switch_pid")"
        o0="$(snmp_udp_out)"
        w0="$(now_ms)"
        log "waiting $n: all in the queue (the switch counts $q0 waiting); holding $HOLD_SECONDS s"
        nap "$HOLD_SECONDS"
        k1="$(cpu_ticks "$switch_pid")"
        o1="$(snmp_udp_out)"
        w1="$(now_ms)"
        threads_snapshot "$switch_pid" >"$dir/threads.after"
        rss1="$(rss_kib "$switch_pid")"
        anon1="$(rss_anon_kib "$switch_pid")"
        q1="$(waiting_now "$cfg")"
        sleep 1.2
        in_pause="$(counts_col "$counts" _Pause_Sessions)"
        ((in_pause >= n)) || left=$((n - in_pause))
    fi
    local rc=0
    wait "$sp" || rc=$?
    forget_pid "$sp"
    stop_sampler
    local others_mean others_max
    read -r others_mean others_max < <(others_cpu "$dir/cpu.samples")
    local ok failed
    ok="$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')"
    failed="$(stat_col "$dir/stat.csv" 'FailedCall(C)')"
    local figures="" _ calls=0 ended=0 answered=0 missed=0 by_agent=0 by_switch=0 joined=0 too_long=0
    for _ in $(seq 40); do
        figures="$(cdr_queue "$cfg" "$caller_pid" $((n + 100)) "$dir/cdrs.json")"
        read -r _ ended _ <<<"$figures"
        ((ended >= ok + failed)) && break
        sleep 1
    done
    read -r calls ended answered missed by_agent by_switch joined too_long _ <<<"$figures"
    local errs
    errs="$(grep -E ' (ERROR|WARN) |panicked' "$dir/switch.log" | grep -vc 'key for personal data' || true)"
    ((errs == 0)) || log "waiting $n: $errs warnings/errors in the switch's log ($dir/switch.log)"
    stop_started

    local wall=$((w1 - w0)) cpu_pct=0 moh="-" per_caller="-"
    if ((w1 > 0)); then
        cpu_pct="$(pct_of $((k1 - k0)) "$wall")"
        moh="$(awk -v d=$((o1 - o0)) -v n="$n" -v ms="$wall" 'BEGIN { printf "%.1f", d / n / (ms / 1000) }')"
        per_caller="$(awk -v a="$rss1" -v b="$rss0" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }')"
    fi
    local why=""
    ((rc == 0)) || why+=" sipp-exit-$rc"
    ((ok == n)) || why+=" only-$ok-of-$n-ok"
    ((failed == 0)) || why+=" $failed-failed"
    ((w1 > 0)) || why+=" no-hold-window"
    ((left == 0)) || why+=" $left-left-early"
    ((q0 == n && q1 == n)) || why+=" switch-counted-$q0/$q1-waiting"
    ((joined == n)) || why+=" $((n - joined))-never-joined"
    ((by_switch == 0)) || why+=" $by_switch-hung-up-by-switch"
    ((too_long == 0)) || why+=" $too_long-waited-too-long"
    ((answered == 0)) || why+=" $answered-answered?"
    local verdict=PASS
    [[ -z "$why" ]] || verdict="FAIL:$why"
    local row
    row="$(printf '%7d %6d %6d %9s %9s %9s %10s %7s %6s %9s   %s' "$n" "$ok" "$failed" "$q0/$q1" \
        "$((rss0 / 1024))" "$((rss1 / 1024))" "$per_caller" "$cpu_pct" "$moh" "$others_mean/$others_max" "$verdict")"
    wait_rows+=("$row")
    log "waiting $n: $row (anonymous RSS $((anon1 / 1024)) MiB)"
    if ((w1 > 0)); then
        log "waiting $n: the switch's threads (% of one core): $(threads_busiest "$dir/threads.before" "$dir/threads.after" "$wall")"
    fi
    if [[ -s "$dir/err.log" && "$verdict" != PASS ]]; then
        log "waiting $n: SIPp errors: $(awk 'NR > 1 && NR <= 4' "$dir/err.log" | cut -c1-200)"
    fi
    if [[ "$verdict" == PASS ]]; then
        wait_best="$n"
    fi
    [[ "$verdict" == PASS ]]
}

# -------------------------------------------------------------------- main
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release)"
    (cd "$root" && cargo build --release --quiet) || die "cargo build --release failed"
fi
[[ -x "$SWITCHBOARD_BIN" ]] || die "no switch binary at $SWITCHBOARD_BIN"
log "open files: soft $(ulimit -Sn), hard $(ulimit -Hn); switch RTP ports $RTP_PORTS"

[[ -n "$RATES" ]] && phase1
for n in $WAITING; do
    log "waiting $n: $n callers entering at $WAIT_RATE/s, all waiting together for $HOLD_SECONDS s"
    run_waiting "$n" || true
done

echo
echo "== Switchboard ACD load ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
if [[ -n "$RATES" ]]; then
    echo "calls through queue '$QUEUE' to agents: $AGENTS SIPp agents (wrap-up 0 s) answering at once and hanging up"
    echo "after $HOLD_MS ms; $LEVEL_SECONDS s of calls per rate. $setup_note."
    printf '%7s %6s %6s %6s %6s %7s %6s %9s %6s %6s %6s %6s %6s %6s %5s %5s   %s\n' offered calls ok failed "agent" \
        answered reached "INVITE->200" "" "INVITE->agent" "" "" CPU switch sipp others result
    printf '%7s %6s %6s %6s %6s %7s %6s %9s %6s %6s %6s %6s %6s %6s %5s %5s\n' calls/s "" "" "" failed \
        "by agent" calls/s "p50/p95" max p50 p95 max us/call "%core" "%core" "CPU %"
    for l in "${rate_rows[@]}"; do echo "$l"; done
    echo "  times in ms. INVITE->200: the switch answering the caller (SIPp); INVITE->agent: to the agent's 200"
    echo "  (CDR journal: queue, offer, ring). reached = callers answered by an agent per second over the span of"
    echo "  those answers. CPU us/call = switch utime+stime over the run / calls; %core: of one core."
fi
if [[ -n "$WAITING" ]]; then
    echo
    echo "concurrent waiting callers: nobody logged in, N callers entering at $WAIT_RATE/s, all waiting $HOLD_SECONDS s with music on hold"
    printf '%7s %6s %6s %9s %9s %9s %10s %7s %6s %9s   %s\n' waiting ok failed "switch" "RSS MiB" "RSS MiB" \
        "KiB per" "switch" "UDP out" "others" result
    printf '%7s %6s %6s %9s %9s %9s %10s %7s %6s %9s\n' callers "" "" "counted" before held caller "%core" \
        "/caller/s" "CPU %"
    for l in "${wait_rows[@]}"; do echo "$l"; done
    echo "  switch counted: callers waiting by \`switchboard queues\` at the hold's start/end; UDP out: the machine's"
    echo "  datagrams per caller per second during the hold (music on hold is 50)."
fi
echo "others CPU % = mean/max over 1 s samples of the machine's CPU (all cores) taken by processes other than"
echo "  the switch and SIPp: a build beside the bench skews the figures."
echo
missed=0
if [[ -n "$RATES" ]]; then
    if ((rate_best > 0)); then
        printf 'RESULT: highest rate through the queue to an agent with 0 failed calls: %d calls/s (target %d): %s\n' \
            "$rate_best" "$RATE_TARGET" "$( ((rate_best >= RATE_TARGET)) && echo PASS || echo FAIL)"
    else
        echo "RESULT: no rate passed (target $RATE_TARGET calls/s through the queue to an agent): FAIL"
    fi
    ((rate_best >= RATE_TARGET)) || missed=1
fi
if [[ -n "$WAITING" ]]; then
    if ((wait_best > 0)); then
        echo "RESULT: concurrent waiting callers held $HOLD_SECONDS s with 0 failed calls: $wait_best"
    else
        echo "RESULT: no level of waiting callers ($WAITING) held with 0 failed calls"
    fi
fi
if [[ "$ENFORCE_TARGETS" == 1 && $missed == 1 ]]; then
    exit 3
fi
exit 0
