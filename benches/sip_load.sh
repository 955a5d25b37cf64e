#!/usr/bin/env bash
# Whole-switch SIP load benchmark (issue 2, the SIP core), driven by SIPp.
#
# Builds Switchboard (release), starts it on a fresh temporary configuration
# (the repository's, moved to other ports, flood defence lifted, 2,000 extra
# users) and measures, on 127.0.0.1:
#   1. REGISTER: the highest offered rate of digest-authenticated
#      registrations of distinct users (REGISTER -> 401 -> REGISTER -> 200)
#      with zero failed registrations;
#   2. calls: the highest rate of 0-second calls through the B2BUA (carrier
#      trunk -> agent 1001, a SIPp UAS) with zero failed calls;
#   3. memory: switch RSS growth per established call (and per dialog: a
#      B2BUA call is two dialogs) with 1,000 calls held open.
# Each test starts a fresh switch. A rate step passes when every call of the
# step succeeded, none failed and the step ran at >= MIN_ACHIEVED percent of
# the offered rate; steps go up until the first failing one.
#
# Usage:  bash benches/sip_load.sh
# Environment (defaults in brackets):
#   QUICK=1            short run: 2 s steps, fewer steps, short settles
#   DRY_RUN=1          no build and no switch: SIPp stand-ins play the switch
#                      (a registrar that checks digests, a UAS on the carrier
#                      port); tests this script and its scenarios
#   TESTS              which tests, in order ["register calls memory"]
#   REG_RATES          REGISTER rates to step through
#                      ["500 1000 2000 3000 4000 5000 6000"]
#   CALL_RATES         call rates ["250 500 1000 1500 2000 2500 3000"]
#   STEP_SECONDS       length of one rate step [10]
#   MIN_ACHIEVED       percent of the offered rate a step must reach [90]
#                      (it must end within its nominal length * 100 /
#                      MIN_ACHIEVED + 0.5 s)
#   USERS              extra users 2000.. appended to the agents profile [2000]
#   HOLD_CALLS         calls held open for the memory test [1000]
#   HOLD_RATE          rate at which they are opened [200]
#   MEM_SETTLE         seconds to wait before each RSS sample [35: longer
#                      than SIP's 32 s transaction timers, so lingering
#                      transactions are gone and only dialogs remain]
#   MAX_TRANSACTIONS   [limits] max_transactions of the benchmark config [1000000]
#   CARRIER_PORT [25080] AGENTS_PORT [25060] UAS_PORT [25070]
#   SIPP_PORT [25090]  first of 3 local ports of the SIPp clients
#   MEDIA_PORT [26000] first of the SIPp media ports (steps of 100)
#   SWITCHBOARD_BIN    binary to run [$CARGO_TARGET_DIR or target, /release/switchboard]
#   SKIP_BUILD=1       do not run cargo build
#   KEEP=1             keep the work folder (logs, SIPp stats) on exit
#   ENFORCE_TARGETS=1  exit 3 when a figure misses its target
# Exit: 0 when the measurements ran (targets are reported, and enforced only
# with ENFORCE_TARGETS=1), 1 when the switch or a peer could not be started,
# 3 when a target was missed and ENFORCE_TARGETS=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scen="$root/benches/sipp"

QUICK="${QUICK:-0}"
DRY_RUN="${DRY_RUN:-0}"
if [[ "$QUICK" == 1 ]]; then
    REG_RATES="${REG_RATES:-500 2000}"
    CALL_RATES="${CALL_RATES:-250 1000}"
    STEP_SECONDS="${STEP_SECONDS:-2}"
    HOLD_RATE="${HOLD_RATE:-500}"
    MEM_SETTLE="${MEM_SETTLE:-3}"
fi
TESTS="${TESTS:-register calls memory}"
REG_RATES="${REG_RATES:-500 1000 2000 3000 4000 5000 6000}"
CALL_RATES="${CALL_RATES:-250 500 1000 1500 2000 2500 3000}"
STEP_SECONDS="${STEP_SECONDS:-10}"
MIN_ACHIEVED="${MIN_ACHIEVED:-90}"
USERS="${USERS:-2000}"
FIRST_USER=2000
HOLD_CALLS="${HOLD_CALLS:-1000}"
HOLD_RATE="${HOLD_RATE:-200}"
MEM_SETTLE="${MEM_SETTLE:-35}"
MAX_TRANSACTIONS="${MAX_TRANSACTIONS:-1000000}"
CARRIER_PORT="${CARRIER_PORT:-25080}"
AGENTS_PORT="${AGENTS_PORT:-25060}"
UAS_PORT="${UAS_PORT:-25070}"
SIPP_PORT="${SIPP_PORT:-25090}"
MEDIA_PORT="${MEDIA_PORT:-26000}"
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-}"
SKIP_BUILD="${SKIP_BUILD:-0}"
KEEP="${KEEP:-0}"
ENFORCE_TARGETS="${ENFORCE_TARGETS:-0}"

REG_TARGET=2000
CALL_TARGET=1000
AGENT=1001
AGENT_PASSWORD=pw1001
LO=127.0.0.1
SIPP_COMMON=(-nostdin -i "$LO" -mi "$LO")

log() { printf '[sip_load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for v in STEP_SECONDS MIN_ACHIEVED USERS HOLD_CALLS HOLD_RATE MEM_SETTLE \
    MAX_TRANSACTIONS CARRIER_PORT AGENTS_PORT UAS_PORT SIPP_PORT MEDIA_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done
for r in $REG_RATES $CALL_RATES; do
    [[ "$r" =~ ^[0-9]+$ && "$r" -gt 0 ]] || die "rates must be positive integers (got '$r')"
done
command -v sipp >/dev/null || die "sipp not found (Debian package sip-tester; bash scripts/install-deps.sh)"
for f in register_users.xml uac_call.xml fake_registrar.xml; do
    [[ -f "$scen/$f" ]] || die "missing scenario $scen/$f"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/sip_load.XXXXXX")"
log "work folder: $work"

# ------------------------------------------ shared helpers (benches/lib.sh)
# shellcheck source=benches/lib.sh
source "$root/benches/lib.sh"

install_cleanup
SWITCHBOARD_BIN="${SWITCHBOARD_BIN:-$(release_bin)}"

# ------------------------------------------------------------ configuration
users_csv="$work/users.csv"
agent_csv="$work/agent.csv"
{
    echo SEQUENTIAL
    for ((u = FIRST_USER; u < FIRST_USER + USERS; u++)); do
        echo "$u;pw$u;[authentication username=$u password=pw$u]"
    done
} >"$users_csv"
printf 'SEQUENTIAL\n%s;%s;[authentication username=%s password=%s]\n' \
    "$AGENT" "$AGENT_PASSWORD" "$AGENT" "$AGENT_PASSWORD" >"$agent_csv"

make_config() {
    local cfg="$work/config"
    bench_config "$cfg" '"warn"' "udp tcp"
    toml_set "$cfg/switchboard.toml" limits max_transactions "$MAX_TRANSACTIONS"
    {
        echo
        echo "# Benchmark users (benches/sip_load.sh)."
        for ((u = FIRST_USER; u < FIRST_USER + USERS; u++)); do
            printf '\n[[users]]\nextension = "%s"\npassword = "pw%s"\n' "$u" "$u"
        done
    } >>"$cfg/sip-profiles/agents.toml"
    echo "$cfg"
}

# ------------------------------------------------------- switch lifecycle
switch_log=""
switch_runs=0

show_switch_log() {
    if [[ -s "$switch_log" ]]; then cat "$switch_log" >&2; else log "(the log is empty)"; fi
}

start_switch() {
    switch_runs=$((switch_runs + 1))
    switch_log="$work/switch.$switch_runs.log"
    local port
    for port in "$CARRIER_PORT" "$AGENTS_PORT" "$UAS_PORT" "$SIPP_PORT" "$((SIPP_PORT + 1))" "$((SIPP_PORT + 2))"; do
        udp_listening "$port" && die "UDP port $port is already in use on $LO (a demo or another benchmark?); set the *_PORT variables"
    done
    if [[ "$DRY_RUN" == 1 ]]; then
        # Stand-ins: a digest-checking registrar on the agents port, and a
        # UAS answering calls on the carrier port (its RSS is "the switch").
        timeout 7200 sipp "${SIPP_COMMON[@]}" -sf "$scen/fake_registrar.xml" -p "$AGENTS_PORT" \
            -mp "$((MEDIA_PORT + 800))" -trace_err -error_file "$switch_log.registrar.err" \
            >"$switch_log.registrar" 2>&1 &
        pids+=($!)
        timeout 7200 sipp "${SIPP_COMMON[@]}" -sn uas -p "$CARRIER_PORT" -mp "$((MEDIA_PORT + 900))" \
            >"$switch_log" 2>&1 &
        pids+=($!)
        switch_pid=$!
    else
        env -u RUST_LOG "$SWITCHBOARD_BIN" serve --config "$config" >"$switch_log" 2>&1 &
        pids+=($!)
        switch_pid=$!
    fi
    local deadline=$(($(now_ms) + 30000))
    while :; do
        if ! kill -0 "$switch_pid" 2>/dev/null; then
            log "the switch exited during start-up; its log ($switch_log):"
            show_switch_log
            exit 1
        fi
        if udp_listening "$CARRIER_PORT" && udp_listening "$AGENTS_PORT"; then break; fi
        if (($(now_ms) > deadline)); then
            log "the switch did not open UDP $LO:$CARRIER_PORT and $LO:$AGENTS_PORT within 30 s; its log ($switch_log):"
            show_switch_log
            exit 1
        fi
        sleep 0.2
    done
    # When the switch is a real one, in DRY_RUN the pid is the stand-in's
    # `timeout`; measure the process it runs.
    if [[ "$DRY_RUN" == 1 ]]; then
        local child
        child="$(pgrep -P "$switch_pid" | head -n1 || true)"
        [[ -n "$child" ]] && switch_pid="$child"
    fi
    log "switch up (pid $switch_pid, RSS $(rss_kib "$switch_pid") KiB)"
}

stop_switch() { stop_started; }

# --------------------------------------------------------------- SIPp runs
# run_step NAME RATE COUNT LIMIT SIPP-ARGS...: runs one bounded SIPp client
# and sets step_ok (1/0), step_line (one line for the report), step_rate
# (achieved calls/s).
step_ok=0
step_line=""
step_rate=0
run_step() {
    local name="$1" rate="$2" count="$3" limit="$4"
    shift 4
    local dir="$work/$name"
    mkdir -p "$dir"
    # SIPp wants open calls + sockets below its open-files limit (20000).
    ((limit <= 10000)) || limit=10000
    local budget=$((count / rate + 45))
    local t0 t1 rc=0
    t0="$(now_ms)"
    (cd "$dir" && exec timeout $((budget + 15)) sipp "${SIPP_COMMON[@]}" "$@" -r "$rate" -rp 1000 \
        -l "$limit" -m "$count" -timeout "${budget}s" -timeout_error \
        -trace_stat -stf stat.csv -fd 1 -trace_err -error_file err.log -max_log_size 20000000 \
        -trace_screen -screen_file screen.log >stdout.log 2>&1) &
    local sp=$!
    pids+=("$sp")
    wait "$sp" || rc=$?
    forget_pid "$sp"
    t1="$(now_ms)"
    local ok failed retrans elapsed
    ok="$(stat_col "$dir/stat.csv" 'SuccessfulCall(C)')"
    failed="$(stat_col "$dir/stat.csv" 'FailedCall(C)')"
    retrans="$(stat_col "$dir/stat.csv" 'Retransmissions(C)')"
    elapsed=$((t1 - t0))
    ((elapsed > 0)) || elapsed=1
    step_rate=$((ok * 1000 / elapsed))
    step_ok=0
    # On time: within the step's nominal length stretched by MIN_ACHIEVED,
    # plus 0.5 s for SIPp's start and the last call's own duration.
    local allowed_ms=$((count * 1000 * 100 / rate / MIN_ACHIEVED + 500))
    if ((rc == 0 && ok == count && failed == 0 && elapsed <= allowed_ms)); then
        step_ok=1
    fi
    step_line="$(printf '%5d/s offered: %6d ok, %4d failed, %6.2f s (%5d/s achieved), %5d retransmissions, sipp exit %d: %s' \
        "$rate" "$ok" "$failed" "$(awk -v e="$elapsed" 'BEGIN { print e / 1000 }')" "$step_rate" "$retrans" "$rc" \
        "$([[ $step_ok == 1 ]] && echo PASS || echo FAIL)")"
    if [[ $step_ok != 1 ]]; then
        step_line+=$'\n'"        details: $dir (err.log, screen.log)"
        if [[ -s "$dir/err.log" ]]; then
            step_line+=$'\n'"$(awk 'NR > 1 && NR <= 4 { print "        " substr($0, 1, 300) }' "$dir/err.log" || true)"
        fi
    fi
}

# register_agent: registers the SIPp UAS as agent 1001 from the UAS's own
# port (so the Contact and the source agree), before the UAS starts there.
register_agent() {
    local dir="$work/agent-register.$switch_runs"
    mkdir -p "$dir"
    if ! (cd "$dir" && timeout 20 sipp "${SIPP_COMMON[@]}" "$LO:$AGENTS_PORT" -sf "$scen/register_users.xml" \
        -inf "$agent_csv" -key contact_port "$UAS_PORT" -key expires 3600 -p "$UAS_PORT" \
        -mp "$((MEDIA_PORT + 700))" -m 1 -timeout 15s -timeout_error \
        -trace_err -error_file err.log >stdout.log 2>&1); then
        log "could not register the SIPp UAS as $AGENT (see $dir):"
        cat "$dir/err.log" >&2 2>/dev/null || tail -n 20 "$dir/stdout.log" >&2
        return 1
    fi
}

start_uas() {
    local dir="$work/uas.$switch_runs"
    mkdir -p "$dir"
    (cd "$dir" && exec timeout 7200 sipp "${SIPP_COMMON[@]}" -sn uas -p "$UAS_PORT" \
        -mp "$((MEDIA_PORT + 600))" -trace_stat -stf stat.csv -fd 1 \
        -trace_err -error_file err.log >stdout.log 2>&1) &
    pids+=($!)
    local _
    for _ in $(seq 50); do
        udp_listening "$UAS_PORT" && return 0
        sleep 0.1
    done
    log "the SIPp UAS did not start on $LO:$UAS_PORT:"
    cat "$dir/stdout.log" >&2 || true
    return 1
}

# probe_call: one call through the switch; false (with the reason) if it fails.
probe_call() {
    run_step "probe.$switch_runs" 1 1 10 "$LO:$CARRIER_PORT" -sf "$scen/uac_call.xml" -s "$AGENT" -d 0 \
        -p "$((SIPP_PORT + 1))" -mp "$((MEDIA_PORT + 500))"
    if [[ $step_ok != 1 ]]; then
        log "a single call carrier -> $AGENT failed: $step_line"
        return 1
    fi
}

# -------------------------------------------------------------------- tests
reg_best=0
reg_best_achieved=0
reg_note=""
test_register() {
    log "REGISTER test: $USERS users, rates: $REG_RATES, $STEP_SECONDS s each"
    start_switch
    local rate
    for rate in $REG_RATES; do
        run_step "register.$rate" "$rate" $((rate * STEP_SECONDS)) $((rate * 4)) \
            "$LO:$AGENTS_PORT" -sf "$scen/register_users.xml" -inf "$users_csv" \
            -key contact_port "$((SIPP_PORT + 9))" -key expires 3600 \
            -p "$SIPP_PORT" -mp "$MEDIA_PORT"
        echo "REGISTER $step_line"
        if [[ $step_ok == 1 ]]; then
            reg_best=$rate
            reg_best_achieved=$step_rate
        else
            reg_note="failed at $rate/s"
            break
        fi
        nap 2
    done
    stop_switch
}

call_best=0
call_best_achieved=0
call_note=""
test_calls() {
    log "calls test: 0 s calls carrier -> $AGENT (SIPp UAS), rates: $CALL_RATES, $STEP_SECONDS s each"
    start_switch
    if ! register_agent || ! start_uas || ! probe_call; then
        call_note="not measured: the call path did not work"
        stop_switch
        return 0
    fi
    local rate
    for rate in $CALL_RATES; do
        run_step "calls.$rate" "$rate" $((rate * STEP_SECONDS)) $((rate * 4)) \
            "$LO:$CARRIER_PORT" -sf "$scen/uac_call.xml" -s "$AGENT" -d 0 \
            -p "$((SIPP_PORT + 1))" -mp "$((MEDIA_PORT + 100))"
        echo "calls    $step_line"
        if [[ $step_ok == 1 ]]; then
            call_best=$rate
            call_best_achieved=$step_rate
        else
            call_note="failed at $rate/s"
            break
        fi
        nap 2
    done
    if [[ -f "$work/uas.$switch_runs/stat.csv" ]]; then
        log "agent UAS: $(stat_col "$work/uas.$switch_runs/stat.csv" 'SuccessfulCall(C)') calls answered, $(stat_col "$work/uas.$switch_runs/stat.csv" 'FailedCall(C)') failed"
    fi
    stop_switch
}

mem_per_call=""
mem_per_dialog=""
mem_note=""
test_memory() {
    log "memory test: $HOLD_CALLS calls held open (opened at $HOLD_RATE/s), RSS samples after $MEM_SETTLE s of quiet"
    start_switch
    if ! register_agent || ! start_uas || ! probe_call; then
        mem_note="not measured: the call path did not work"
        stop_switch
        return 0
    fi
    nap "$MEM_SETTLE"
    local before
    before="$(rss_kib "$switch_pid")"
    local dir="$work/hold"
    mkdir -p "$dir"
    local ramp=$((HOLD_CALLS / HOLD_RATE + 1))
    local hold_s=$((ramp + MEM_SETTLE + 60))
    (cd "$dir" && exec timeout $((hold_s + 60)) sipp "${SIPP_COMMON[@]}" "$LO:$CARRIER_PORT" \
        -sf "$scen/uac_call.xml" -s "$AGENT" -d $((hold_s * 1000)) -r "$HOLD_RATE" -rp 1000 \
        -l "$HOLD_CALLS" -m "$HOLD_CALLS" -p "$((SIPP_PORT + 2))" -mp "$((MEDIA_PORT + 200))" \
        -trace_stat -stf stat.csv -trace_counts -fd 1 -trace_err -error_file err.log \
        >stdout.log 2>&1) &
    local hold_pid=$!
    pids+=("$hold_pid")
    # Wait until every call is established (ACK sent, now in the pause).
    local deadline=$(($(now_ms) + (ramp + 60) * 1000)) held=0 counts f
    while :; do
        counts=""
        for f in "$dir"/*_counts.csv; do [[ -f "$f" ]] && counts="$f"; done
        [[ -n "$counts" ]] && held="$(counts_col "$counts" _Pause_Sessions)"
        ((held >= HOLD_CALLS)) && break
        if ! kill -0 "$hold_pid" 2>/dev/null || (($(now_ms) > deadline)); then
            mem_note="only $held of $HOLD_CALLS calls got established (failed: $(stat_col "$dir/stat.csv" 'FailedCall(C)'); see $dir)"
            log "memory test: $mem_note"
            stop_switch
            return 0
        fi
        sleep 0.5
    done
    local peak
    peak="$(rss_kib "$switch_pid")"
    log "memory test: $held calls established; RSS $before KiB before, $peak KiB now; waiting $MEM_SETTLE s"
    nap "$MEM_SETTLE"
    held="$(counts_col "$counts" _Pause_Sessions)"
    local after
    after="$(rss_kib "$switch_pid")"
    local failed
    failed="$(stat_col "$dir/stat.csv" 'FailedCall(C)')"
    echo "memory   RSS before: $before KiB; at $HOLD_CALLS established calls: $peak KiB; $MEM_SETTLE s later: $after KiB ($held calls still held, $failed failed)"
    if ((held < HOLD_CALLS || failed > 0)); then
        mem_note="calls dropped while held ($held of $HOLD_CALLS left, $failed failed)"
    fi
    mem_per_call="$(awk -v a="$after" -v b="$before" -v n="$HOLD_CALLS" 'BEGIN { printf "%.1f", (a - b) / n }')"
    mem_per_dialog="$(awk -v a="$after" -v b="$before" -v n="$HOLD_CALLS" 'BEGIN { printf "%.1f", (a - b) / n / 2 }')"
    mem_peak_call="$(awk -v a="$peak" -v b="$before" -v n="$HOLD_CALLS" 'BEGIN { printf "%.1f", (a - b) / n }')"
    stop_switch
}
mem_peak_call=""

# --------------------------------------------------------------------- main
if [[ "$DRY_RUN" == 1 ]]; then
    log "DRY_RUN: SIPp stand-ins replace the switch; figures describe SIPp, not Switchboard"
    config="(none)"
else
    if [[ "$SKIP_BUILD" != 1 ]]; then
        log "cargo build --release"
        (cd "$root" && cargo build --release) || die "cargo build --release failed"
    fi
    [[ -x "$SWITCHBOARD_BIN" ]] || die "no switch binary at $SWITCHBOARD_BIN"
    config="$(make_config)"
    if ! "$SWITCHBOARD_BIN" check --config "$config" >"$work/check.log" 2>&1; then
        log "switchboard check refused the benchmark configuration ($config):"
        cat "$work/check.log" >&2
        exit 1
    fi
fi
# In DRY_RUN the configuration is still generated (to exercise it) but unused.
[[ "$DRY_RUN" == 1 ]] && make_config >/dev/null

for t in $TESTS; do
    case "$t" in
        register) test_register ;;
        calls) test_calls ;;
        memory) test_memory ;;
        *) die "unknown test '$t' (valid: register calls memory)" ;;
    esac
done

missed=0
echo
echo "== Switchboard SIP load ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)$([[ $DRY_RUN == 1 ]] && echo ', DRY_RUN: SIPp stand-ins, not the switch'))"
for t in $TESTS; do
    case "$t" in
        register)
            if ((reg_best > 0)); then
                echo "REGISTER: $reg_best/s with 0 failures (target $REG_TARGET)"
            else
                echo "REGISTER: no rate passed (target $REG_TARGET)"
            fi
            echo "  = successful digest registrations per second of distinct users ($USERS), each 2 transactions"
            echo "    (REGISTER->401, REGISTER->200): $((reg_best * 2)) transactions/s; achieved $reg_best_achieved/s${reg_note:+; $reg_note}"
            ((reg_best >= REG_TARGET)) || missed=1
            ;;
        calls)
            if ((call_best > 0)); then
                echo "calls: $call_best/s with 0 failures (target $CALL_TARGET)"
            else
                echo "calls: no rate passed (target $CALL_TARGET)"
            fi
            echo "  = 0 s calls carrier -> B2BUA -> agent per second (INVITE/200/ACK/BYE on both legs); achieved $call_best_achieved/s${call_note:+; $call_note}"
            ((call_best >= CALL_TARGET)) || missed=1
            ;;
        memory)
            if [[ -n "$mem_per_call" ]]; then
                echo "memory: $mem_per_call KiB per call ($mem_per_dialog KiB per dialog) at $HOLD_CALLS open calls"
                echo "  = (VmRSS with the calls held, after $MEM_SETTLE s quiet - VmRSS before) / $HOLD_CALLS; a call = 2 dialogs;"
                echo "    right after the last call was set up (transactions still alive): $mem_peak_call KiB per call${mem_note:+; $mem_note}"
            else
                echo "memory: not measured${mem_note:+ (${mem_note#not measured: })}"
            fi
            ;;
    esac
done

if [[ "$ENFORCE_TARGETS" == 1 && $missed == 1 ]]; then
    exit 3
fi
exit 0
