# Shell helpers shared by the benchmark scripts (sip_load.sh,
# media_load.sh, ivr_load.sh, acd_load.sh): process bookkeeping, /proc and
# SIPp statistics readers, a TOML key setter, the demo configuration's copy,
# the switch's start, and the shared machine's load (a quiet wait before a
# run, the other processes' CPU during it). Sourced, never run; the sourcing
# script sets $root (the repository), defines log() and die() and sets
# `set -euo pipefail` (and QUIET_WAIT, QUIET_PERCENT to use wait_quiet).
# shellcheck shell=bash

# ---------------------------------------------------------------- cleanup
pids=()        # every background process this script started
switch_pid=""  # the process whose RSS is measured

stop_pid() {
    local pid="$1"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# forget_pid PID: drop a reaped process from pids (its number may be reused).
forget_pid() {
    local keep=() p
    for p in "${pids[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
    pids=("${keep[@]}")
}

# ---------------------------------------------------------------- helpers
# udp_listening PORT: true when something has a UDP socket bound to
# 127.0.0.1:PORT or 0.0.0.0:PORT.
udp_listening() {
    local hex
    hex="$(printf '%04X' "$1")"
    awk -v a="0100007F:$hex" -v b="00000000:$hex" \
        'NR > 1 && ($2 == a || $2 == b) { found = 1 } END { exit !found }' /proc/net/udp
}

# stat_col CSV COLUMN: the value of COLUMN in the last line of a SIPp
# -trace_stat file (";"-separated, header on the first line).
stat_col() {
    awk -F';' -v col="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        { last = $0 }
        END { if (!c || last == "") { print 0; exit } split(last, f, ";"); print f[c] + 0 }' "$1" 2>/dev/null || echo 0
}

# counts_col CSV SUFFIX: the last value of the first column whose name ends
# with SUFFIX in a SIPp -trace_counts file.
counts_col() {
    awk -F';' -v suf="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if (substr($i, length($i) - length(suf) + 1) == suf) { c = i; break } next }
        { last = $0 }
        END { if (!c || last == "") { print 0; exit } split(last, f, ";"); print f[c] + 0 }' "$1" 2>/dev/null || echo 0
}

# cpu_ticks PID: utime + stime of the process (all its threads), in clock
# ticks (getconf CLK_TCK a second).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Anonymous resident memory (heap, stacks): what calls allocate, without the
# binary's code pages, which the first calls fault in once for all calls.
rss_anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

now_ms() { date +%s%3N; }

# nap SECONDS: a sleep that INT/TERM interrupt at once (bash runs traps
# only between commands, but `wait` returns on a trapped signal).
nap() {
    sleep "$1" &
    wait $! || true
}

# toml_set FILE SECTION KEY VALUE: sets KEY = VALUE in [SECTION] (SECTION
# "" = the top level, before any table), adding the key or the table when
# missing. VALUE is written as given (quote strings yourself).
toml_set() {
    local file="$1" section="$2" key="$3" value="$4"
    awk -v sec="$section" -v key="$key" -v val="$value" '
        function flush() { if (insec && !done) { print key " = " val; done = 1 } }
        /^[[:space:]]*\[/ {
            flush()
            name = $0; sub(/^[[:space:]]*\[+[[:space:]]*/, "", name); sub(/[[:space:]]*\].*$/, "", name)
            insec = ($0 !~ /^[[:space:]]*\[\[/ && name == sec)
            print; next
        }
        NR == 1 && sec == "" { insec = 1 }
        insec && !done && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" { print key " = " val; done = 1; next }
        { print }
        END {
            if (!done && insec) { print key " = " val; done = 1 }
            if (!done) { print ""; print "[" sec "]"; print key " = " val }
        }' "$file" >"$file.new"
    mv "$file.new" "$file"
}

# release_bin: where `cargo build --release` puts the switch (honours
# CARGO_TARGET_DIR, relative to the repository when not absolute).
release_bin() {
    local dir="${CARGO_TARGET_DIR:-target}"
    # shellcheck disable=SC2154 # root: set by the sourcing script
    [[ "$dir" == /* ]] || dir="$root/$dir"
    echo "$dir/release/switchboard"
}

# copy_demo_config DIR: DIR becomes a fresh copy of the repository's demo
# configuration (switchboard.toml, sip-profiles/, ivr-flows/, prompts/,
# contact-center/: the demo flow's queue nodes name its queues) with an
# empty recordings/ folder.
copy_demo_config() {
    local cfg="$1" d
    rm -rf "$cfg"
    mkdir -p "$cfg/recordings"
    cp "$root/switchboard.toml" "$cfg/"
    cp -r "$root/sip-profiles" "$cfg/"
    for d in prompts ivr-flows contact-center; do
        if [[ -d "$root/$d" ]]; then cp -r "$root/$d" "$cfg/"; else mkdir -p "$cfg/$d"; fi
    done
}

# bench_config DIR LOG_LEVEL TRANSPORTS: DIR becomes a copy of the demo
# configuration for a load run: LOG_LEVEL (a TOML string) as its log
# filter, the agents and carrier profiles listening on $LO at $AGENTS_PORT
# and $CARRIER_PORT over each of TRANSPORTS ("udp", "udp tcp"), with no SIP
# trace and the flood defence lifted (SIPp is one source sending far above
# any phone's rate), and MD5 digests (SIPp 3.6.1 answers only the first
# challenge, and aborts on "algorithm=SHA-256").
bench_config() {
    local cfg="$1" level="$2" transports="$3" p port t listen f
    copy_demo_config "$cfg"
    toml_set "$cfg/switchboard.toml" log level "$level"
    for p in agents carrier; do
        # shellcheck disable=SC2153 # the sourcing script sets the ports
        if [[ "$p" == agents ]]; then port="$AGENTS_PORT"; else port="$CARRIER_PORT"; fi
        listen=""
        for t in $transports; do listen+="${listen:+, }\"$t:$LO:$port\""; done
        f="$cfg/sip-profiles/$p.toml"
        [[ -f "$f" ]] || die "expected $f: the demo's $p profile"
        toml_set "$f" "" listen "[$listen]"
        toml_set "$f" "" sip_trace false
        toml_set "$f" security rate_limit 1000000
        toml_set "$f" security burst 1000000
        toml_set "$f" security ban_after_failures 1000000
    done
    toml_set "$cfg/sip-profiles/agents.toml" "" digest_algorithms '["MD5"]'
}

# check_config DIR FLOW LOG: `switchboard check` accepts DIR and loads the
# flow FLOW; dies with the check's output (kept in LOG) otherwise.
check_config() {
    local cfg="$1" flow="$2" log="$3"
    "$SWITCHBOARD_BIN" check --config "$cfg" >"$log" 2>&1 ||
        die "switchboard check refused the bench configuration: $(cat "$log")"
    grep -q "$flow" "$log" || die "the flow $flow was not loaded: $(cat "$log")"
}

# launch_switch CONFIG LOG PORT...: starts $SWITCHBOARD_BIN on CONFIG
# (sets switch_pid, adds it to pids) and waits, at most 30 s, until it has
# a UDP socket on every PORT of 127.0.0.1; dies with its log's tail if it
# exits or does not listen. SWITCH_NICE (if set) is its nice value.
launch_switch() {
    local cfg="$1" logf="$2"
    shift 2
    local nice=()
    [[ -n "${SWITCH_NICE:-}" ]] && nice=(nice -n "$SWITCH_NICE")
    env -u RUST_LOG "${nice[@]}" "$SWITCHBOARD_BIN" serve --config "$cfg" >"$logf" 2>&1 &
    pids+=($!)
    switch_pid=$!
    local deadline=$(($(now_ms) + 30000)) port up
    while :; do
        kill -0 "$switch_pid" 2>/dev/null || die "the switch exited at start: $(tail -n 20 "$logf")"
        up=1
        for port in "$@"; do udp_listening "$port" || up=0; done
        ((up == 1)) && return 0
        (($(now_ms) < deadline)) || die "the switch did not listen on UDP $* within 30 s (log: $logf)"
        sleep 0.2
    done
}

# stop_started: stops every process this script started (switch, peers).
stop_started() {
    local p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    pids=()
    switch_pid=""
}

# ------------------------------------------------------- others' CPU
# The machine is shared (a build may run beside the bench): once a second,
# the machine's busy time (/proc/stat, steal included), the steal alone
# and the CPU of the given processes (the switch, SIPp, tcpdump...), so
# that the time the rest of the machine took can be told beside the
# figures.
sampler_pid=""
start_sampler() {
    local out="$1"
    shift
    (
        local i p line
        for ((i = 0; i < 7200; i++)); do
            line="$(date +%s) $(awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6, $9; exit }' /proc/stat)"
            for p in "$@"; do line+=" $(cpu_ticks "$p")"; done
            echo "$line"
            sleep 1
        done
    ) >"$out" &
    sampler_pid=$!
    pids+=("$sampler_pid")
}

stop_sampler() {
    [[ -n "$sampler_pid" ]] || return 0
    stop_pid "$sampler_pid"
    forget_pid "$sampler_pid"
    sampler_pid=""
}

# others_cpu SAMPLES: "MEAN MAX": the percentage of the machine (all
# cores) busy with other processes than the sampled ones, on average and
# in the busiest second.
others_cpu() {
    awk '
        NR > 1 && $3 > t {
            ours = 0
            for (i = 5; i <= NF; i++) if ($i >= p[i]) ours += $i - p[i]  # a process gone reads 0
            o = (($2 - b) - ours) * 100 / ($3 - t)
            if (o < 0) o = 0
            sum += o; n++
            if (o > max) max = o
        }
        { b = $2; t = $3; for (i = 5; i <= NF; i++) p[i] = $i }
        END { printf "%.0f %.0f\n", n ? sum / n : 0, max }' "$1" 2>/dev/null || echo "0 0"
}

# others_at SAMPLES UNIXSECOND: "N%, steal M%": the others percentage and
# the time the hypervisor stole, in the second ending nearest after
# UNIXSECOND.
others_at() {
    awk -v at="$2" '
        NR > 1 && $3 > t && $1 > at && !done {
            ours = 0
            for (i = 5; i <= NF; i++) if ($i >= p[i]) ours += $i - p[i]
            o = (($2 - b) - ours) * 100 / ($3 - t)
            printf "%.0f%%, steal %.0f%%", (o < 0 ? 0 : o), ($4 - st) * 100 / ($3 - t); done = 1
        }
        { b = $2; t = $3; st = $4; for (i = 5; i <= NF; i++) p[i] = $i }
        END { if (!done) printf "?" }' "$1" 2>/dev/null || echo "?"
}

# wait_quiet: waits (at most QUIET_WAIT seconds) until the machine has
# been less than QUIET_PERCENT busy for 3 s in a row, so that a run does
# not start in the middle of someone else's build; goes on regardless
# after that (the others' CPU column tells what happened during the run).
wait_quiet() {
    ((QUIET_WAIT > 0)) || return 0
    local deadline=$(($(now_ms) + QUIET_WAIT * 1000)) quiet=0 said=0 prev cur busy
    prev="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)"
    while (($(now_ms) < deadline)); do
        sleep 1
        cur="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)"
        busy="$(awk -v p="$prev" -v c="$cur" 'BEGIN { split(p, a, " "); split(c, b, " ");
            d = b[2] - a[2]; print (d > 0 ? int((b[1] - a[1]) * 100 / d) : 100) }')"
        prev="$cur"
        if ((busy < QUIET_PERCENT)); then
            quiet=$((quiet + 1))
            ((quiet >= 3)) && return 0
        else
            if ((said == 0)); then
                log "the machine is ${busy}% busy (other work); waiting for it to calm down (at most ${QUIET_WAIT} s)"
                said=1
            fi
            quiet=0
        fi
    done
    log "the machine stayed busy for ${QUIET_WAIT} s; going on (see the others column)"
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    if [[ "$KEEP" == 1 || $rc -ne 0 ]]; then
        log "logs kept in $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}

# install_cleanup: on exit (or INT/TERM) stop every process in pids and
# remove $work unless KEEP=1 or the run failed.
install_cleanup() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
