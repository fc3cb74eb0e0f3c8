#!/usr/bin/env python3
"""Generates the labelled evaluation set of Warden's security analytics (docs/analytics-detections.md).

Deterministic for a seed: the same command writes byte-identical files.

    python3 scripts/analytics-dataset.py --out DIR [--seed 17] [--days 4]

Writes into DIR:
  fleet.pcap          the devices' IP traffic as a probe on the SGi/N6 side captures it: headers only
                      (snaplen-style), the IP total length telling the size on the wire; classic pcap,
                      raw IPv4 link type
  sessions.json       device address -> IMSI, tenant, profile (what the Gx sessions say)
  signalling.jsonl    Warden's own signalling events, one JSON object a line: at_ms, imsi, kind, rejected
  imei.jsonl          IMEIs presented on ULR: at_ms, imsi, imei
  intel.csv           threat-intelligence indicators, `type,value`
  labels.json         the injected attacks: imsi, attack, start_ms, end_ms
  meta.json           start_ms, days, devices

Normal fleets (day 0 is the engine's learning day, attacks are injected on days 1..days-1):
  acme/meter      60 smart meters: a TLS report every 15 minutes, DNS every 6 hours
  acme/tracker    40 trackers: CoAP every 10 minutes and HTTPS hourly while active (16 h a day,
                  staggered), NTP daily, now and then the firmware server
  globex/camera   30 cameras: an upload every 30 minutes to one of four servers, extra motion uploads
Every device: a ULR and two AIRs a day, its IMEI once a day, sometimes a reboot (5 AIRs at once).

Attacks, three of each on distinct devices:
  telnet_scan       Mirai-style SYNs to 600 random hosts on TCP 23/2323 in 10 minutes
  exfiltration      20 MB uploaded to a host the device never used, over 30 minutes
  dns_tunnel        300 TXT queries carrying base32 data under one domain in 20 minutes
  c2_beacon         a small TCP connection every minute for 2 hours to a C2 host on the threat list
  sim_swap          the SIM presents a phone's IMEI, then phone traffic for 8 hours
  signalling_storm  900 AIRs (half rejected) in an hour
"""

import argparse
import base64
import json
import os
import random

from scapy.all import DNS, DNSQR, IP, TCP, UDP, PcapWriter  # PyPI scapy

DAY = 86_400
START = 1_767_571_200  # 2026-01-05T00:00:00Z
RESOLVER = "10.255.0.53"


class Capture:
    """Packets with their times. Scapy builds each distinct header once (building is the slow part):
    regular traffic repeats the same headers, and a probe's headers-only capture keeps nothing else."""

    def __init__(self):
        self.packets = []  # (time, bytes)
        self.built = {}

    def add(self, t, pkt):
        self.packets.append((t, bytes(pkt)))

    def header(self, t, l4, src, dst, sport, dport, length, flags=None):
        key = (l4, src, dst, sport, dport, length, flags)
        data = self.built.get(key)
        if data is None:
            seg = TCP(sport=sport, dport=dport, flags=flags) if l4 == "tcp" else UDP(sport=sport, dport=dport)
            data = bytes(IP(src=src, dst=dst, len=length) / seg)
            self.built[key] = data
        self.packets.append((t, data))

    def tcp(self, t, src, dst, sport, dport, up_len, down_len, flags="PA"):
        self.header(t, "tcp", src, dst, sport, dport, up_len, flags)
        if down_len:
            self.header(t + 0.05, "tcp", dst, src, dport, sport, down_len, "A")

    def udp(self, t, src, dst, sport, dport, up_len, down_len):
        self.header(t, "udp", src, dst, sport, dport, up_len)
        if down_len:
            self.header(t + 0.05, "udp", dst, src, dport, sport, down_len)

    def dns(self, t, src, name, qtype="A", rcode=0, rng=None):
        sport = 20000 + rng.randrange(4)
        key = ("dns", src, name, qtype, rcode, sport)
        pair = self.built.get(key)
        if pair is None:
            qid = rng.randrange(65536)
            query = IP(src=src, dst=RESOLVER) / UDP(sport=sport, dport=53) / DNS(id=qid, rd=1, qd=DNSQR(qname=name, qtype=qtype))
            answer = IP(src=RESOLVER, dst=src) / UDP(sport=53, dport=sport) / DNS(
                id=qid, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=name, qtype=qtype))
            pair = (bytes(query), bytes(answer))
            self.built[key] = pair
        self.packets.append((t, pair[0]))
        self.packets.append((t + 0.02, pair[1]))

    def write(self, path):
        self.packets.sort(key=lambda p: p[0])
        with PcapWriter(path, linktype=228, sync=False) as w:  # LINKTYPE_IPV4
            w.write_header(None)
            for t, data in self.packets:
                w.write_packet(data, sec=int(t), usec=int(round((t - int(t)) * 1e6)) % 1_000_000)


def imei_with_check(body14):
    """Appends the Luhn check digit (TS 23.003 Annex B)."""
    total = 0
    for i, ch in enumerate(body14):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body14 + str((10 - total % 10) % 10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--days", type=int, default=4)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    cap = Capture()
    signalling, imeis, labels = [], [], []

    devices = []  # dicts: ip, imsi, tenant, profile, imei, phase
    def fleet(n, tenant, profile, net, tac):
        for i in range(n):
            devices.append({
                "ip": f"{net}.{i + 10}",
                "imsi": f"00101{len(devices):010d}",
                "tenant": tenant,
                "profile": profile,
                "imei": imei_with_check(f"{tac}{rng.randrange(10**6):06d}"),
                "phase": rng.random(),
            })
    fleet(60, "acme", "meter", "10.1.0", "86712305")
    fleet(40, "acme", "tracker", "10.1.1", "86450104")
    fleet(30, "globex", "camera", "10.2.0", "86951203")
    by_profile = {p: [d for d in devices if d["profile"] == p] for p in ("meter", "tracker", "camera")}

    end = START + args.days * DAY

    def jitter(s):
        return rng.uniform(-s, s)

    def eport():
        """An ephemeral source port from a small pool (a device's TCP stack cycles through few)."""
        return 40000 + rng.randrange(4) * 7

    def size(lo, hi):
        return rng.randrange(lo, hi, 50)

    for d in devices:
        ip, phase = d["ip"], d["phase"]
        if d["profile"] == "meter":
            server = rng.choice(["198.51.100.10", "198.51.100.11"])
            t = START + phase * 900
            while t < end:
                cap.tcp(t + jitter(60), ip, server, eport(), 443, size(250, 450), size(120, 200))
                t += 900
            t = START + phase * 6 * 3600
            while t < end:
                cap.dns(t, ip, "ingest.meters.acme.example", rng=rng)
                t += 6 * 3600
        elif d["profile"] == "tracker":
            first = int(phase * 6)  # active from hour `first` for 16 hours
            for day in range(args.days):
                base = START + day * DAY
                for h in range(first, first + 16):
                    hs = base + h * 3600
                    for k in range(6):
                        cap.udp(hs + k * 600 + rng.uniform(0, 60), ip, "203.0.113.20", 5683, 5683, size(120, 220), 60)
                    cap.tcp(hs + rng.uniform(0, 3000), ip, "198.51.100.40", eport(), 443, size(1500, 2500), 800)
                    cap.dns(hs + rng.uniform(0, 60), ip, "api.trackers.acme.example", rng=rng)
                cap.udp(base + first * 3600 + 120, ip, "192.0.2.123", 123, 123, 76, 76)
                if rng.random() < 0.1:
                    cap.tcp(base + (first + 3) * 3600 + rng.uniform(0, 3600), ip, "198.51.100.200", eport(), 443, 600, 30000)
        else:
            servers = ["198.51.100.80", "198.51.100.81", "198.51.100.82", "198.51.100.83"]
            t = START + phase * 1800
            while t < end:
                n = rng.randrange(4, 7)
                cap.tcp(t, ip, rng.choice(servers), eport(), 443, 1400 * n, 200)
                if rng.random() < 0.2:  # motion
                    cap.tcp(t + rng.uniform(60, 1500), ip, rng.choice(servers), eport(), 443, 1400 * rng.randrange(3, 15), 200)
                t += 1800
            t = START + phase * 7200
            while t < end:
                cap.dns(t, ip, "upload.cams.globex.example", rng=rng)
                t += 7200
        for day in range(args.days):
            base = START + day * DAY
            at = base + rng.uniform(0, DAY)
            signalling.append({"at_ms": int(at * 1000), "imsi": d["imsi"], "kind": "ulr", "rejected": False})
            imeis.append({"at_ms": int(at * 1000), "imsi": d["imsi"], "imei": d["imei"]})
            for _ in range(2):
                signalling.append({"at_ms": int((base + rng.uniform(0, DAY)) * 1000), "imsi": d["imsi"], "kind": "air", "rejected": False})
            if rng.random() < 0.05:  # reboot
                at = base + rng.uniform(0, DAY - 600)
                for k in range(5):
                    signalling.append({"at_ms": int((at + k * 20) * 1000), "imsi": d["imsi"], "kind": "air", "rejected": False})

    # Attacks: distinct victims, days 1..days-1.
    victims = {p: rng.sample(v, len(v)) for p, v in by_profile.items()}
    def victim(*profiles):
        p = rng.choice(profiles)
        return victims[p].pop()
    def attack_time():
        return START + rng.randrange(1, args.days) * DAY + rng.uniform(2 * 3600, 14 * 3600)
    def label(d, attack, start, stop):
        labels.append({"imsi": d["imsi"], "attack": attack, "start_ms": int(start * 1000), "end_ms": int(stop * 1000)})

    c2_hosts = ["45.155.205.10", "45.155.205.11", "45.155.205.12"]
    for n in range(3):
        d, t0 = victim("camera", "camera", "tracker"), attack_time()
        for k in range(600):
            target = f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            cap.header(t0 + k * 1.0, "tcp", d["ip"], target, rng.randrange(1024, 65535), 23 if rng.random() < 0.8 else 2323, 40, "S")
        label(d, "telnet_scan", t0, t0 + 600)

        d, t0 = victim("meter", "tracker"), attack_time()
        target = f"185.220.{101 + n}.{rng.randrange(1, 255)}"
        sport = rng.randrange(40000, 60000)
        for k in range(350):  # 350 segments of 60000 bytes (TSO-sized) = 21 MB
            cap.tcp(t0 + k * 5.0, d["ip"], target, sport, 443, 60000, 52)
        label(d, "exfiltration", t0, t0 + 1800)

        d, t0 = victim("meter"), attack_time()
        for k in range(300):
            chunk = base64.b32encode(rng.randbytes(25)).decode().rstrip("=").lower()
            cap.dns(t0 + k * 4.0, d["ip"], f"{chunk}.{k}.t.cdn-sync.net", qtype="TXT", rng=rng)
        label(d, "dns_tunnel", t0, t0 + 1200)

        d, t0 = victim("tracker", "meter"), attack_time()
        host = c2_hosts[n]
        for k in range(120):
            cap.tcp(t0 + k * 60 + rng.uniform(0, 2), d["ip"], host, eport(), 4444, 90, 70)
        label(d, "c2_beacon", t0, t0 + 7200)

        d, t0 = victim("meter", "tracker"), attack_time()
        phone_imei = imei_with_check(f"35332511{rng.randrange(10**6):06d}")
        imeis.append({"at_ms": int(t0 * 1000), "imsi": d["imsi"], "imei": phone_imei})
        signalling.append({"at_ms": int(t0 * 1000), "imsi": d["imsi"], "kind": "ulr", "rejected": False})
        popular = [f"142.250.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(15)] + \
                  [f"157.240.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(10)] + \
                  [f"17.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(15)]
        t = t0 + 30
        while t < t0 + 8 * 3600:
            cap.tcp(t, d["ip"], rng.choice(popular), eport(), rng.choice([443, 443, 443, 80, 5228]), size(500, 3000), size(5000, 60000))
            if rng.random() < 0.2:
                cap.dns(t + 0.5, d["ip"], rng.choice(["www.google.com", "graph.facebook.com", "api.whatsapp.net", "gateway.icloud.com"]), rng=rng)
            t += rng.uniform(5, 60)
        label(d, "sim_swap", t0, t0 + 8 * 3600)

        d, t0 = victim("meter", "tracker", "camera"), attack_time()
        for k in range(900):
            signalling.append({"at_ms": int((t0 + k * 4.0) * 1000), "imsi": d["imsi"], "kind": "air", "rejected": k % 2 == 0})
        label(d, "signalling_storm", t0, t0 + 3600)

    cap.write(os.path.join(args.out, "fleet.pcap"))
    sessions = {d["ip"]: {"imsi": d["imsi"], "tenant": d["tenant"], "profile": d["profile"]} for d in devices}
    with open(os.path.join(args.out, "sessions.json"), "w") as f:
        json.dump(sessions, f, indent=1, sort_keys=True)
    for name, rows in (("signalling.jsonl", signalling), ("imei.jsonl", imeis)):
        rows.sort(key=lambda r: (r["at_ms"], r["imsi"]))
        with open(os.path.join(args.out, name), "w") as f:
            for r in rows:
                f.write(json.dumps(r, sort_keys=True) + "\n")
    with open(os.path.join(args.out, "intel.csv"), "w") as f:
        f.write("type,value\n# C2 of the injected beacons, and unrelated indicators\ncidr,45.155.205.0/24\n")
        f.write("ipv4,203.0.113.250\nipv6,2001:db8:bad::1\ndomain,evil-c2.example\n")
    with open(os.path.join(args.out, "labels.json"), "w") as f:
        json.dump(sorted(labels, key=lambda l: (l["start_ms"], l["imsi"])), f, indent=1)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({"start_ms": START * 1000, "days": args.days, "devices": len(devices), "seed": args.seed}, f)


if __name__ == "__main__":
    main()
