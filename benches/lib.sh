# Shell helpers shared by the benchmark scripts (sip_load.sh,
# media_load.sh, ivr_load.sh): process bookkeeping, /proc and SIPp
# statistics readers, a TOML key setter, the demo configuration's copy and
# the switch's start. Sourced, never run; the sourcing script sets $root
# (the repository), defines log() and die() and sets `set -euo pipefail`.
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
