#!/usr/bin/env python3
"""PyPI smpplib's PDU codec as an oracle for Warden's (crates/smpp/tests/smpplib_codec.rs).

Reads a JSON list on stdin; each item is either
  {"parse": "<hex PDU>"}                      -> the fields smpplib reads out of it, or
  {"generate": "<command>", "sequence": N, "status": S, "fields": {...}}  -> {"hex": "<PDU smpplib builds>"}
and writes the JSON list of results on stdout. Octet-string fields travel as hex ("short_message",
"message_payload"); C-octet strings as text.
"""

import json
import sys

from smpplib import client as smpp_client
from smpplib import smpp

SEQ = smpp_client.SimpleSequenceGenerator()
INTS = ("source_addr_ton", "source_addr_npi", "dest_addr_ton", "dest_addr_npi", "esm_class", "protocol_id",
        "priority_flag", "registered_delivery", "replace_if_present_flag", "data_coding", "sm_default_msg_id",
        "interface_version", "addr_ton", "addr_npi", "sar_msg_ref_num", "sar_total_segments",
        "sar_segment_seqnum", "message_state")
STRINGS = ("service_type", "source_addr", "destination_addr", "schedule_delivery_time", "validity_period",
           "system_id", "password", "system_type", "address_range", "message_id", "receipted_message_id")
OCTETS = ("short_message", "message_payload")


def parse(data):
    pdu = smpp.parse_pdu(bytes.fromhex(data), client=SEQ, allow_unknown_opt_params=True)
    out = {"command": pdu.command, "sequence": pdu.sequence, "status": pdu.status}
    for name in INTS:
        value = getattr(pdu, name, None)
        if value is not None:
            out[name] = value
    for name in STRINGS:
        value = getattr(pdu, name, None)
        if value is not None:
            out[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    for name in OCTETS:
        value = getattr(pdu, name, None)
        if value is not None:
            out[name] = value.hex()
    return out


def generate(item):
    fields = dict(item["fields"])
    for name in OCTETS:
        if name in fields:
            fields[name] = bytes.fromhex(fields[name])
    pdu = smpp.make_pdu(item["generate"], client=SEQ, **fields)
    pdu.sequence = item["sequence"]
    pdu.status = item.get("status", 0)
    return {"hex": pdu.generate().hex()}


def main():
    results = []
    for item in json.load(sys.stdin):
        results.append(parse(item["parse"]) if "parse" in item else generate(item))
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
