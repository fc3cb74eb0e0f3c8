#!/usr/bin/env python3
"""Dissects GTPv2-C responses with PyPI scapy (scapy.contrib.gtp_v2), an implementation nobody on this
project wrote, for crates/gtpfw/tests/overload_control.rs: reads one hex message a line on stdin and
prints one JSON object a line: message type, TEID, sequence number, Cause value and every Overload
Control Information (IE type 180, TS 29.274 §8.111) with its instance and children: Sequence Number
(IE 183, §8.114), Metric (IE 182, §8.113) and EPC Timer (IE 156, §8.87) as unit and value.

scapy has no class for these IEs: it frames them as IE_NotImplementedTLV (type, length, instance,
data); the grouped OCI's data is framed again the same way, and the values are read from the data
octets as TS 29.274 lays them out.
"""

import json
import sys

from scapy.contrib import gtp_v2 as g2


def children(data):
    """The IEs inside a grouped IE's value, framed by scapy."""
    out = []
    while data:
        ie = g2.IE_NotImplementedTLV(data)
        out.append(ie)
        data = bytes(ie.payload)
    return out


def oci(ie):
    out = {"instance": ie.instance}
    for c in children(ie.data):
        if c.ietype == 183:
            out["sequence"] = int.from_bytes(c.data, "big")
        elif c.ietype == 182:
            out["metric"] = c.data[0]
        elif c.ietype == 156:
            out["timer_unit"] = c.data[0] >> 5
            out["timer_value"] = c.data[0] & 0x1F
    return out


def dissect(data):
    pkt = g2.GTPHeader(data)
    msg = {"type": pkt.gtp_type, "teid": pkt.teid if pkt.T else None, "seq": pkt.seq, "oci": []}
    for ie in pkt.payload.IE_list or []:
        if isinstance(ie, g2.IE_Cause):
            msg["cause"] = ie.Cause
        elif ie.ietype == 180:
            msg["oci"].append(oci(ie))
    return msg


for line in sys.stdin:
    line = line.strip()
    if line:
        print(json.dumps(dissect(bytes.fromhex(line))))
