#!/usr/bin/env python3
"""Dissects GTP-C messages with PyPI scapy (scapy.contrib.gtp_v2 / scapy.contrib.gtp) for the gtpc
crate's tests (crates/gtpc/tests/scapy.rs): reads one hex message a line on stdin and prints one JSON
object a line: the header fields and every IE's fields as scapy decoded them (nested IE lists
recursively), values as strings. scapy is the oracle: nobody on this project wrote it.
"""

import json
import sys

from scapy.contrib import gtp
from scapy.contrib import gtp_v2 as g2
from scapy.packet import Raw


def value(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, list):
        return [fields(x) if hasattr(x, "fields") else value(x) for x in v]
    return str(v)


def fields(pkt):
    out = {"_class": type(pkt).__name__}
    for k, v in pkt.fields.items():
        if hasattr(v, "fields"):
            out[k] = fields(v)
        else:
            out[k] = value(v)
    return out


def dissect(data):
    version = data[0] >> 5
    pkt = g2.GTPHeader(data) if version == 2 else gtp.GTPHeader(data)
    msg = {"header": fields(pkt), "ies": [], "raw_left": 0}
    body = pkt.payload
    if hasattr(body, "IE_list") and body.IE_list is not None:
        msg["ies"] = [fields(ie) for ie in body.IE_list]
        msg["class"] = type(body).__name__
    if Raw in pkt:
        msg["raw_left"] = len(pkt[Raw].load)
    return msg


for line in sys.stdin:
    line = line.strip()
    if line:
        print(json.dumps(dissect(bytes.fromhex(line))))
