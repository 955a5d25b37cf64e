# Shell helpers shared by the benchmark scripts (sip_load.sh,
# media_load.sh): process bookkeeping, /proc and SIPp statistics
# readers, and a TOML key setter. Sourced, never run; the sourcing
# script defines log() and die() and sets `set -euo pipefail`.
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
