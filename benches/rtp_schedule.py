#!/usr/bin/env python3
"""How late were the RTP packets of a capture, against their own schedule?

Reads a pcap (tcpdump -w, classic format, Ethernet/loopback or Linux
cooked link type; a snaplen of 54 bytes is enough: Ethernet, IPv4, UDP and
the 12-byte RTP header) and, for each RTP stream (source port + SSRC),
compares every packet's capture time with the time its RTP timestamp says
it is due:

    due(p) = base + (ts(p) - ts(first)) / clock_rate

A sender that keeps a media clock (Switchboard's sessions move the
timestamp on by one frame every 20 ms tick whether a packet goes out or
not) puts every packet at its tick, so `arrival - (ts - ts0) / rate` is
constant for a punctual stream. `base` is the smallest such offset of the
stream (a minimum-offset fit: the stream's most punctual packet is on time;
no packet can be early, since a tick is never sent before it is due), and
a packet is late by its offset minus that minimum. The kernel stamps
packets on lo as they are sent, so this is the switch's own lateness, not
the receiver's.

Also counted, per stream, in order of sequence number:
  * skipped frames: the timestamp moved on by more than one frame between
    consecutive packets (a sender with an idle output of silence sends a
    packet every tick, so a gap is a frame that was never sent: Switchboard
    does this when it falls more than 3 ticks behind);
  * sequence gaps: packets missing from the capture (lost between the
    sender and the capture, or dropped by the capture itself).

Prints one line of key=value pairs (read by benches/ivr_load.sh):
  streams packets late max_late_us p99_late_us skipped seq_gaps
  window_packets window_late (packets captured within --window FROM TO,
  Unix seconds, and how many of them were late) late_seconds (the 5
  seconds with the most late packets: UNIXSECOND:COUNT,...; "-" for none);
  with --pauses FILE (lines "FROM TO", Unix seconds: stretches during which
  the machine itself stopped, seen by benches/pause_probe.py) also
  late_in_pauses (late packets that would not have been late without the
  part of a pause that fell between their due time and their sending) and
  pauses (how many pauses longer than --late-ms the capture's span holds).

Usage: rtp_schedule.py CAPTURE.pcap [--late-ms 10] [--window FROM TO] [--pauses FILE]
                       [--clock 8000] [--show N]
Standard library only.
"""

import argparse
import array
import struct
import sys

PCAP_US = 0xA1B2C3D4
PCAP_NS = 0xA1B23C4D
LINK_ETHERNET = 1
LINK_RAW = 101
LINK_LINUX_SLL = 113


def read_packets(path):
    """Yields (time in seconds, bytes from the IPv4 header on)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic_le = struct.unpack_from("<I", data, 0)[0]
    magic_be = struct.unpack_from(">I", data, 0)[0]
    if magic_le in (PCAP_US, PCAP_NS):
        endian, magic = "<", magic_le
    elif magic_be in (PCAP_US, PCAP_NS):
        endian, magic = ">", magic_be
    else:
        sys.exit(f"{path}: not a classic pcap file (pcapng is not read)")
    frac = 1e-9 if magic == PCAP_NS else 1e-6
    link = struct.unpack_from(endian + "I", data, 20)[0]
    if link == LINK_ETHERNET:
        l2 = 14
    elif link == LINK_LINUX_SLL:
        l2 = 16
    elif link == LINK_RAW:
        l2 = 0
    else:
        sys.exit(f"{path}: link type {link} is not read")
    rec = struct.Struct(endian + "IIII")
    off, end = 24, len(data)
    while off + 16 <= end:
        sec, sub, incl, _ = rec.unpack_from(data, off)
        start = off + 16
        off = start + incl
        if off > end:
            break
        yield sec + sub * frac, data[start + l2 : off]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--late-ms", type=float, default=10.0)
    ap.add_argument("--window", type=float, nargs=2, metavar=("FROM", "TO"))
    ap.add_argument("--clock", type=int, default=8000, help="RTP clock rate")
    ap.add_argument("--show", type=int, default=0, help="print the N latest streams")
    ap.add_argument("--pauses", help="the machine's pauses: lines FROM TO (Unix seconds)")
    args = ap.parse_args()

    udp_rtp = struct.Struct("!HHHHBBHII")  # UDP header, then RTP's first 12 bytes
    # Per stream: arrival times, unwrapped timestamps, sequence numbers.
    streams = {}
    w0, w1 = args.window if args.window else (float("-inf"), float("inf"))
    for t, ip in read_packets(args.pcap):
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) < ihl + 20:
            continue
        sport, dport, _, _, b0, b1, seq, ts, ssrc = udp_rtp.unpack_from(ip, ihl)
        if b0 >> 6 != 2 or 200 <= b1 <= 204:
            continue  # not RTP version 2, or RTCP
        s = streams.get((sport, ssrc))
        if s is None:
            s = streams[(sport, ssrc)] = [array.array("d"), array.array("q"), array.array("q"), ts, seq]
        # Unwrap the 32-bit timestamp and 16-bit sequence number against
        # the previous packet (a wrap is a jump of more than half the range).
        prev_ts, prev_seq = s[3], s[4]
        dts = (ts - prev_ts + 0x80000000) % 0x100000000 - 0x80000000
        dseq = (seq - prev_seq + 0x8000) % 0x10000 - 0x8000
        s[3], s[4] = ts, seq
        s[0].append(t)
        s[1].append((s[1][-1] if s[1] else 0) + dts)
        s[2].append((s[2][-1] if s[2] else 0) + dseq)

    late_s = args.late_ms / 1000.0
    pauses = []
    if args.pauses:
        with open(args.pauses) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    pauses.append((float(parts[0]), float(parts[1])))
        pauses.sort()

    def in_pause(due, sent):
        """Whether pauses between `due` and `sent` account for all but
        late_s of the lateness."""
        overlap = 0.0
        for a, b in pauses:
            if a >= sent:
                break
            if b > due:
                overlap += min(b, sent) - max(a, due)
        return (sent - due) - overlap <= late_s

    late_in_pauses = 0
    rate = float(args.clock)
    total = late = window = window_late = skipped = gaps = 0
    late_by_second = {}
    # Lateness histogram in 0.1 ms buckets (the last one holds the rest).
    hist = [0] * 10001
    worst_all = 0.0
    per_stream = []
    for key, (times, stamps, seqs, _, _) in streams.items():
        offsets = [t - ts / rate for t, ts in zip(times, stamps)]
        base = min(offsets)
        stream_late = 0
        worst = 0.0
        for t, off in zip(times, offsets):
            d = off - base
            hist[min(int(d * 10000), 10000)] += 1
            if d > worst:
                worst = d
            if d > late_s:
                stream_late += 1
                if pauses and in_pause(t - d, t):
                    late_in_pauses += 1
                sec = int(t)
                late_by_second[sec] = late_by_second.get(sec, 0) + 1
                if w0 <= t <= w1:
                    window_late += 1
            if w0 <= t <= w1:
                window += 1
        total += len(times)
        late += stream_late
        worst_all = max(worst_all, worst)
        # Frame size: the most common timestamp step between consecutive
        # sequence numbers.
        order = sorted(range(len(seqs)), key=seqs.__getitem__)
        steps = {}
        for a, b in zip(order, order[1:]):
            if seqs[b] - seqs[a] == 1:
                d = stamps[b] - stamps[a]
                steps[d] = steps.get(d, 0) + 1
        frame = max(steps, key=steps.get) if steps else 0
        stream_skipped = stream_gaps = 0
        for a, b in zip(order, order[1:]):
            dseq = seqs[b] - seqs[a]
            if dseq > 1:
                stream_gaps += dseq - 1
            elif dseq == 1 and frame > 0 and stamps[b] - stamps[a] > frame:
                stream_skipped += (stamps[b] - stamps[a]) // frame - 1
        skipped += stream_skipped
        gaps += stream_gaps
        per_stream.append((times[0], key, len(times), stream_late, worst, stream_skipped, stream_gaps))

    p99, seen = 0.0, 0
    for bucket, count in enumerate(hist):
        seen += count
        if seen >= 0.99 * total:
            p99 = (bucket + 1) / 10000.0
            break
    worst = worst_all
    first = min((v[0][0] for v in streams.values()), default=0.0)
    last = max((v[0][-1] for v in streams.values()), default=0.0)
    long_pauses = sum(1 for a, b in pauses if b - a > late_s and b >= first and a <= last)
    top = sorted(late_by_second.items(), key=lambda kv: -kv[1])[:5]
    worst_seconds = ",".join(f"{sec}:{n}" for sec, n in sorted(top))
    for first, (sport, ssrc), n, sl, w, sk, g in sorted(per_stream)[-args.show :] if args.show else []:
        print(
            f"# stream {sport}/{ssrc:08x}: {n} packets from {first:.3f}, {sl} late, worst {w * 1000:.2f} ms, "
            f"{sk} skipped, {g} missing",
            file=sys.stderr,
        )
    print(
        f"streams={len(streams)} packets={total} late={late} max_late_us={int(worst * 1e6)} "
        f"p99_late_us={int(p99 * 1e6)} skipped={skipped} seq_gaps={gaps} "
        f"window_packets={window} window_late={window_late} late_seconds={worst_seconds or '-'}"
        + (f" late_in_pauses={late_in_pauses} pauses={long_pauses}" if args.pauses else "")
    )


if __name__ == "__main__":
    main()
