#!/usr/bin/env python3
"""Writes the capture of crates/warden/tests/analytics_serve.rs: one device doing Mirai-style telnet
scanning (TCP SYNs to 200 random hosts on ports 23/2323, one every 0.2 s), a little normal traffic of
that device, and one flow of an address no Gx session holds. Uses the `Capture` class of
scripts/analytics-dataset.py (PyPI scapy), written as Ethernet frames (classic pcap, link type 1:
softflowd does not read the raw IPv4 link type).

    python3 make_scan_pcap.py OUT.pcap UE_ADDRESS START_UNIX_SECONDS
"""

import importlib.util
import pathlib
import random
import sys

from scapy.all import Ether, PcapWriter  # PyPI scapy

ROOT = pathlib.Path(__file__).resolve().parents[4]
spec = importlib.util.spec_from_file_location("dataset", ROOT / "scripts" / "analytics-dataset.py")
dataset = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dataset)


def main():
    out, ue, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    rng = random.Random(17)
    cap = dataset.Capture()
    # Normal: a TLS report to the meter platform.
    cap.tcp(start, ue, "198.51.100.20", 40001, 443, 600, 1200)
    # The SYNs within 2 s, so that the capture is in the past when it is replayed a few seconds later
    # (flows are mapped to the SIM that held the address when they started; an exporter never reports
    # a flow before it happened, and NetFlow v9 uptimes ahead of the export header's read as a wrap).
    for k in range(200):
        target = f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        port = 23 if rng.random() < 0.8 else 2323
        cap.header(start + 1 + k * 0.01, "tcp", ue, target, rng.randrange(1024, 65535), port, 40, "S")
    # Nobody's address (no Gx session): unmapped.
    cap.udp(start + 2, "10.99.0.1", "198.51.100.20", 5683, 5683, 80, 80)
    cap.packets.sort(key=lambda p: p[0])
    ether = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x0800))
    with PcapWriter(out, linktype=1, sync=False) as w:  # LINKTYPE_ETHERNET
        w.write_header(None)
        for t, data in cap.packets:
            w.write_packet(ether + data, sec=int(t), usec=int(round((t - int(t)) * 1e6)) % 1_000_000)


if __name__ == "__main__":
    main()
