#!/usr/bin/env python3
"""Sees the machine's own pauses: sleeps 1 ms at a time for SECONDS and
prints every wake-up that came more than --over-ms late, as
"FROM TO" (Unix seconds, wall clock: the stretch during which this
process could not run).

Run at real-time priority (chrt -f), nothing on the machine should keep it
from waking up within a fraction of a millisecond; when it oversleeps all
the same, the machine itself stopped (a virtual machine's vCPU descheduled
by its host, for one). benches/ivr_load.sh runs it beside the switch and
tells the switch's late packets that fall in such a pause from the others.

Usage: pause_probe.py SECONDS [--over-ms 5]
Standard library only.
"""

import argparse
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("seconds", type=float)
    ap.add_argument("--over-ms", type=float, default=5.0)
    args = ap.parse_args()
    over = args.over_ms / 1000.0
    end = time.monotonic() + min(args.seconds, 7200.0)
    prev, prev_wall = time.monotonic(), time.time()
    while prev < end:
        time.sleep(0.001)
        now, now_wall = time.monotonic(), time.time()
        if now - prev - 0.001 > over:
            print(f"{prev_wall + 0.001:.6f} {now_wall:.6f}", flush=True)
        prev, prev_wall = now, now_wall
    return 0


if __name__ == "__main__":
    sys.exit(main())
