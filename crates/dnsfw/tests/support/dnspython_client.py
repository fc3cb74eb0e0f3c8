"""Asks a DNS server questions with dnspython (a client nobody on the project wrote).

Reads a JSON list of questions on stdin and writes a JSON list of results on stdout, one per
question. A question: {"server": "127.0.0.1", "port": 5353, "source": "127.0.0.2", "name": "...",
"type": "A", "mode": "udp" | "tcp" | "fallback" | "raw_udp" | "raw_tcp", "edns": null | payload,
"hex": "..." (raw modes only)}. A result: {"rcode": int | null, "tc": bool, "used_tcp": bool,
"answers": ["1.2.3.4", ...], "ttls": [...], "qname": "...", "opt": bool, "payload": int | null,
"error": str | null}.
"""
import json
import socket
import struct
import sys

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype


def describe(resp, used_tcp=False):
    answers, ttls = [], []
    for rrset in resp.answer:
        for rd in rrset:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                answers.append(rd.address)
            else:
                answers.append(rd.to_text())
            ttls.append(rrset.ttl)
    return {
        "rcode": resp.rcode(),
        "tc": bool(resp.flags & dns.flags.TC),
        "used_tcp": used_tcp,
        "answers": answers,
        "ttls": ttls,
        "qname": resp.question[0].name.to_text() if resp.question else None,
        "opt": resp.edns >= 0,
        "payload": resp.payload if resp.edns >= 0 else None,
        "error": None,
    }


def ask(q):
    server, port, source = q["server"], q["port"], q.get("source")
    timeout = q.get("timeout", 2.0)
    mode = q.get("mode", "udp")
    if mode in ("raw_udp", "raw_tcp"):
        wire = bytes.fromhex(q["hex"])
        try:
            if mode == "raw_udp":
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((source or "127.0.0.1", 0))
                s.settimeout(timeout)
                s.sendto(wire, (server, port))
                data, _ = s.recvfrom(65535)
            else:
                s = socket.create_connection((server, port), timeout=timeout, source_address=(source or "127.0.0.1", 0))
                s.sendall(struct.pack("!H", len(wire)) + wire)
                (n,) = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))
                data = s.recv(n, socket.MSG_WAITALL)
            s.close()
        except socket.timeout:
            return {"rcode": None, "error": "timeout"}
        resp = dns.message.from_wire(data, ignore_trailing=True, question_only=True)
        return {"rcode": resp.rcode(), "id": resp.id, "tc": bool(resp.flags & dns.flags.TC), "error": None}
    edns = q.get("edns")
    if edns is None:
        msg = dns.message.make_query(q["name"], q.get("type", "A"), use_edns=False)
    else:
        msg = dns.message.make_query(q["name"], q.get("type", "A"), use_edns=0, payload=edns)
    try:
        if mode == "udp":
            return describe(dns.query.udp(msg, server, port=port, source=source, timeout=timeout))
        if mode == "tcp":
            return describe(dns.query.tcp(msg, server, port=port, source=source, timeout=timeout), True)
        if mode == "fallback":
            resp, used_tcp = dns.query.udp_with_fallback(msg, server, port=port, source=source, timeout=timeout)
            return describe(resp, used_tcp)
        return {"rcode": None, "error": "unknown mode " + mode}
    except dns.exception.Timeout:
        return {"rcode": None, "error": "timeout"}


def main():
    questions = json.load(sys.stdin)
    json.dump([ask(q) for q in questions], sys.stdout)


if __name__ == "__main__":
    main()
