#!/usr/bin/env bash
# Builds Switchboard in release mode and starts it on the demo
# configuration at the repository root (switchboard.toml, sip-profiles/,
# ivr-flows/). Stop it with Ctrl-C.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-deps.sh --demo
cargo build --release

cat <<TXT

Switchboard demo
  - Register a softphone as 1001 / pw1001 on 127.0.0.1:5060 (UDP or TCP).
    Agents 1001..1005 exist, with passwords pw1001..pw1005.
  - Send a call to sip:1001@127.0.0.1:5080 from the trunk side, e.g. with
      sipp -sn uac 127.0.0.1:5080 -s 1001 -m 1 -i 127.0.0.1
    An unknown number (sip:4999@...) gets 404; an agent that is not
    registered gets 480.
  - The IVR: sip:100@127.0.0.1:5080 (the notice, then the menu: 1, 2, 3
    or 0 queue the caller for the agents with that skill); sip:199@... is
    the same flow at night (a callback request). From +15550101 (a demo
    VIP) the menu is skipped.
  - Agents start logged out: from the softphone dial *21 to log in and be
    ready (*22 break, *23 log out), or run
    \`target/release/switchboard agent 1001 ready\`. A queue nobody is
    logged in to takes a message. \`switchboard agents\` and
    \`switchboard queues\` show the floor.
  - Media checks without an agent: sip:9196@127.0.0.1:5080 echoes your
    audio; sip:9197@127.0.0.1:5080 records you until # and plays it back.
  - Every call is in \`target/release/switchboard calls\` (CDR, codecs,
    loss, digits); answered calls are recorded under recordings/.
  - Demo customers (demo/customers.toml) are loaded; callers' numbers,
    names and digits are sealed in switchboard.db with the key in pii.key.
  - Logs go to this terminal; stop with Ctrl-C.

TXT

# Honour CARGO_TARGET_DIR like cargo does (relative to the repository root).
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
# The demo customers (inserted or updated by number: safe on every start).
"$target_dir/release/switchboard" customers import demo/customers.toml --config "$root"
exec "$target_dir/release/switchboard" serve --config "$root"
