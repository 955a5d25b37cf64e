#!/usr/bin/env bash
# Installs the Debian packages Switchboard's tests (or, with --demo, its
# demo) need. Idempotent: when every needed command/package is already
# present, apt is not touched at all. Never prompts. Exits non-zero, with a
# line saying what is missing, if anything could not be installed.
#
#   bash scripts/install-deps.sh          # everything the test suite uses
#   bash scripts/install-deps.sh --demo   # only what the demo needs
set -euo pipefail

mode="test"
for arg in "$@"; do
    case "$arg" in
        --demo) mode="demo" ;;
        -h|--help)
            sed -n '2,9p' "$0"
            exit 0
            ;;
        *)
            echo "install-deps: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

# Each entry: "debian-package:check", where check is either a command name
# (cmd=NAME) or a package whose files are needed but that installs no
# command (pkg=NAME, checked with dpkg, or pkg-config when dpkg is absent).
#
# Both modes build Switchboard, which links the system libopus (Opus
# transcoding, through the audiopus crate) found with pkg-config.
build=(
    "pkg-config:cmd=pkg-config"
    "libopus-dev:pkg=libopus-dev"
    # QA's embedded speech recognizer: PocketSphinx linked through our FFI,
    # with the US English model it loads at run time.
    "libpocketsphinx-dev:pkg=libpocketsphinx-dev"
    "libsphinxbase-dev:pkg=libsphinxbase-dev"
    "pocketsphinx-en-us:pkg=pocketsphinx-en-us"
)
if [[ "$mode" == demo ]]; then
    # The demo's "first call" uses SIPp as the carrier and baresip as the
    # agent's softphone.
    wanted=(
        "${build[@]}"
        "sip-tester:cmd=sipp"
        "baresip:cmd=baresip"
        "sox:cmd=sox"
        # IVR prompts written as text (English and Mandarin) are spoken by it.
        "espeak-ng:cmd=espeak-ng"
    )
else
    wanted=(
        "${build[@]}"
        "sip-tester:cmd=sipp"
        "baresip:cmd=baresip"
        "linphone-cli:cmd=linphonec"
        "sox:cmd=sox"
        "tshark:cmd=tshark"
        "espeak-ng:cmd=espeak-ng"
        # benches/ivr_load.sh captures the switch's prompts on lo with it.
        "tcpdump:cmd=tcpdump"
        # QA tests speak agents' and callers' phrases with flite voices
        # (PocketSphinx does not recognise espeak-ng speech).
        "flite:cmd=flite"
        # tests/qa_report.rs renders the HTML QA report headless (a
        # screenshot and its DOM) to prove a browser shows it.
        "chromium:cmd=chromium"
    )
fi

is_present() {
    local check="$1"
    case "$check" in
        cmd=*)
            command -v "${check#cmd=}" >/dev/null 2>&1
            ;;
        pkg=*)
            local pkg="${check#pkg=}"
            if command -v dpkg-query >/dev/null 2>&1; then
                dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'
            elif [[ "$pkg" == libopus-dev ]] && command -v pkg-config >/dev/null 2>&1; then
                pkg-config --exists opus
            else
                return 1
            fi
            ;;
        *)
            return 1
            ;;
    esac
}

missing=()
for entry in "${wanted[@]}"; do
    pkg="${entry%%:*}"
    check="${entry#*:}"
    if ! is_present "$check"; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: everything needed ($mode) is already installed"
    exit 0
fi

echo "install-deps: installing: ${missing[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: ERROR: apt-get not found; install these by hand: ${missing[*]}" >&2
    exit 1
fi

sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        # -n: never ask for a password (there may be no terminal).
        sudo_cmd=(sudo -n)
    else
        echo "install-deps: ERROR: not root and sudo is not available; install these as root: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update </dev/null; then
    echo "install-deps: ERROR: apt-get update failed" >&2
    exit 1
fi
# tshark asks (through debconf) whether non-root users may capture: answer no.
if printf '%s\n' "${missing[@]}" | grep -qx tshark && command -v debconf-set-selections >/dev/null 2>&1; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        "${sudo_cmd[@]}" debconf-set-selections || true
fi
if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" \
    install --no-install-recommends "${missing[@]}" </dev/null; then
    echo "install-deps: ERROR: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi

# Verify: a package that "installed" but left its command missing is a failure too.
still_missing=()
for entry in "${wanted[@]}"; do
    pkg="${entry%%:*}"
    check="${entry#*:}"
    if ! is_present "$check"; then
        still_missing+=("$pkg (${check#*=})")
    fi
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
    echo "install-deps: ERROR: still missing after install: ${still_missing[*]}" >&2
    exit 1
fi
echo "install-deps: done ($mode)"
