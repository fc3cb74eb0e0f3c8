#!/usr/bin/env python3
"""Mirrored packets for the live DPI test (crates/warden/tests/analytics_dpi_live.rs), made with
scapy (PyPI) and its TZSP layer (scapy.contrib.tzsp), as a MikroTik probe would send them.

usage: make_tzsp_datagrams.py OUTDIR UE_ADDRESS OTHER_UE_ADDRESS

Writes UDP payloads (one datagram per file) into OUTDIR:
  card.tzsp        TZSP (type 0, Ethernet, a timestamp tag) of Ethernet/IPv4/TCP: an HTTP POST from
                   UE_ADDRESS to 198.51.100.20:80 carrying the Luhn-valid test card 4111 1111 1111 1111
  email.tzsp       the same framing, downlink: a CoAP-like UDP answer from 198.51.100.20:5683 to
                   UE_ADDRESS carrying an e-mail address
  other_card.tzsp  the card POST from OTHER_UE_ADDRESS (a SIM of a tenant that did not agree)
  stranger.tzsp    the card POST between two addresses no SIM holds
  keepalive.tzsp   a TZSP keepalive (type 4): nothing to scan
Each datagram is read back with scapy's TZSP dissector to check its layers.
"""

import os
import sys

from scapy.contrib.tzsp import TZSP, TZSPTagEnd, TZSPTagTimestamp
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

out, ue, other_ue = sys.argv[1], sys.argv[2], sys.argv[3]
SERVER = "198.51.100.20"

POST = (
    b"POST /checkout HTTP/1.1\r\nHost: shop.example\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 42\r\n\r\n"
    b"card=4111 1111 1111 1111&exp=12%2F29&cvc=7"
)
ANSWER = b"\x60\x45\x12\x34\xffcontact: ops-team@meters.example for support"


def tzsp(frame, kind=0):
    return TZSP(version=1, type=kind, encapsulated_protocol=1) / TZSPTagTimestamp(timestamp=1_764_000_000) / TZSPTagEnd() / frame


def ether(ip):
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip


def post(src):
    return ether(IP(src=src, dst=SERVER) / TCP(sport=40010, dport=80, flags="PA", seq=1000, ack=2000) / Raw(POST))


datagrams = {
    "card.tzsp": tzsp(post(ue)),
    "email.tzsp": tzsp(ether(IP(src=SERVER, dst=ue) / UDP(sport=5683, dport=40011) / Raw(ANSWER)), kind=1),
    "other_card.tzsp": tzsp(post(other_ue)),
    "stranger.tzsp": tzsp(post("10.99.0.1")),
    "keepalive.tzsp": TZSP(version=1, type=TZSP.TYPE_KEEPALIVE, encapsulated_protocol=1),
}

for name, pkt in datagrams.items():
    data = bytes(pkt)
    back = TZSP(data)
    if name != "keepalive.tzsp":
        assert back.haslayer(Ether) and back.haslayer(IP), f"{name}: {back!r}"
        assert back[IP].src in (ue, SERVER, other_ue, "10.99.0.1"), name
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
