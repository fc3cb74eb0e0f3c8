#!/usr/bin/env python3
"""Writes the DPI fixtures with scapy (PyPI `scapy`): dpi.pcap (personal data in clear among
ordinary IoT traffic) and clean.pcap (the same traffic without it).

Usage: python3 make_dpi_pcaps.py [OUT_DIR]   (default: this file's directory)

Every field scapy would pick by itself (ports, sequence numbers, IP IDs, times) is set here, so the
output is the same byte for byte on every run; crates/warden/tests/analytics_dpi.rs checks that.
The personal data is made up: card and IBAN are published test numbers, the rest is invented.
"""

import os
import sys

from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, wrpcap
from scapy.layers.dns import DNS, DNSQR

DEVICE = "10.45.0.7"
DEVICE6 = "2001:db8:45::7"
SERVER = "198.51.100.20"
SERVER6 = "2001:db8:100::20"
MAC_DEV = "02:00:00:00:00:07"
MAC_GW = "02:00:00:00:00:01"
T0 = 1764000000


def eth():
    return Ether(src=MAC_DEV, dst=MAC_GW)


def tcp(payload, sport, dport, seq, ip_id):
    return eth() / IP(src=DEVICE, dst=SERVER, id=ip_id, ttl=64) / TCP(
        sport=sport, dport=dport, seq=seq, ack=1, flags="PA", window=64240
    ) / Raw(payload)


def udp(payload, sport, dport, ip_id):
    return eth() / IP(src=DEVICE, dst=SERVER, id=ip_id, ttl=64) / UDP(sport=sport, dport=dport) / Raw(payload)


def udp6(payload, sport, dport):
    return eth() / IPv6(src=DEVICE6, dst=SERVER6, hlim=64) / UDP(sport=sport, dport=dport) / Raw(payload)


def ordinary():
    """Traffic with nothing personal in it: a DNS query, an HTTP GET, telemetry, a number that
    fails Luhn, an NMEA sentence with a bad checksum."""
    return [
        eth() / IP(src=DEVICE, dst="198.51.100.53", id=1, ttl=64) / UDP(sport=40001, dport=53)
        / DNS(id=0x1234, rd=1, qd=DNSQR(qname="api.meters.example")),
        tcp(b"GET /fw/meter-3.2.bin HTTP/1.1\r\nHost: ota.meters.example\r\n\r\n", 40002, 80, 1000, 2),
        udp(b'{"ts":1764000000123,"kwh":1234.5,"v":231.7,"seq":88172}', 40003, 5683, 3),
        tcp(b"POST /pay HTTP/1.1\r\n\r\npan=4111111111111112", 40004, 80, 2000, 4),
        udp(b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n", 40005, 10110, 5),
    ]


def personal():
    """One packet per kind, each with exactly one finding."""
    return [
        tcp(b"POST /checkout HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
            b"card=4111 1111 1111 1111&exp=12/29", 40010, 80, 3000, 10),
        udp(b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n", 40011, 10110, 11),
        tcp(b'{"owner":"jane.doe@example.org","battery":87}', 40012, 1883, 4000, 12),
        udp6(b'{"iban":"DE89370400440532013000","amount":12.5}', 40013, 5683),
        udp(b"tracker/42/pos 48.8584, 2.2945", 40014, 1883, 14),
    ]


def stamp(packets, start):
    for i, p in enumerate(packets):
        p.time = T0 + start + i
    return packets


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    base = ordinary()
    mixed = base[:2] + personal() + base[2:]
    wrpcap(os.path.join(out, "dpi.pcap"), stamp(mixed, 0))
    wrpcap(os.path.join(out, "clean.pcap"), stamp(ordinary(), 0))


if __name__ == "__main__":
    main()
