#!/usr/bin/env python3
"""A second, independent Gx client for warden's PCRF, on python-diameter (PyPI `python-diameter`,
imported as `diameter`, MIT licence): CER with Gx (Vendor-Specific-Application-Id 10415/16777238),
one CCR-I for an IMSI and a UE address, DPR, and the CCA printed as JSON on stdout:

    {"result_code": 2001, "experimental_result_code": null,
     "rules": [{"name": "...", "precedence": 100, "flow_status": 2,
                "flows": [{"description": "permit out ...", "direction": 3}]}]}

Usage: pgw.py --addr 127.0.0.1:3868 --host pgw-py.home.example --realm home.example
              --imsi 001010000000001 --ip 10.45.0.9 [--apn meters.example]
Only loopback addresses are accepted. Exit status 2 on a protocol failure (message on stderr).
"""

import argparse
import ipaddress
import json
import os
import socket
import struct
import sys
import time

from diameter.message import Message
from diameter.message.avp import Avp
from diameter.message.avp.grouped import SubscriptionId, VendorSpecificApplicationId
from diameter.message.commands import (
    CapabilitiesExchangeRequest,
    CreditControlRequest,
    DisconnectPeerRequest,
)
from diameter.message.constants import (
    AVP_EXPERIMENTAL_RESULT,
    AVP_EXPERIMENTAL_RESULT_CODE,
    AVP_RESULT_CODE,
    AVP_TGPP_CHARGING_RULE_DEFINITION,
    AVP_TGPP_CHARGING_RULE_INSTALL,
    AVP_TGPP_CHARGING_RULE_NAME,
    AVP_TGPP_FLOW_DESCRIPTION,
    AVP_TGPP_FLOW_DIRECTION,
    AVP_TGPP_FLOW_INFORMATION,
    AVP_TGPP_FLOW_STATUS,
    AVP_TGPP_PRECEDENCE,
    VENDOR_TGPP,
)

GX = 16777238  # TS 29.212 §5.1
CCR_INITIAL = 1  # RFC 4006 §8.3
END_USER_IMSI = 1  # RFC 4006 §8.47
EUTRAN = 1004  # TS 29.212 §5.3.31
EPS = 5  # IP-CAN-Type 3GPP-EPS, TS 29.212 §5.3.27


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


def read_message(sock):
    head = b""
    while len(head) < 20:
        chunk = sock.recv(20 - len(head))
        if not chunk:
            fail("connection closed by the PCRF")
        head += chunk
    length = struct.unpack("!I", head[:4])[0] & 0xFFFFFF
    body = b""
    while len(head) + len(body) < length:
        chunk = sock.recv(length - len(head) - len(body))
        if not chunk:
            fail("connection closed in the middle of a message")
        body += chunk
    # A plain message: the AVP tree as received (the typed classes of python-diameter keep only the
    # AVPs they define, and Charging-Rule-Install's definitions are not among them).
    return Message.from_bytes(head + body, plain_msg=True)


def exchange(sock, request, hop):
    """Sends `request` with hop-by-hop `hop` and returns its answer; other messages are skipped
    (a watchdog or a RAR from the PCRF is not for this short-lived client)."""
    request.header.hop_by_hop_identifier = hop
    request.header.end_to_end_identifier = hop
    sock.sendall(request.as_bytes())
    while True:
        m = read_message(sock)
        if not m.header.is_request and m.header.hop_by_hop_identifier == hop:
            return m


def value(avp):
    v = avp.value
    return v.decode() if isinstance(v, bytes) else v


def children(avp, code, vendor=VENDOR_TGPP):
    return [a for a in (avp.value or []) if a.code == code and a.vendor_id == vendor]


def first(avp, code, vendor=VENDOR_TGPP):
    found = children(avp, code, vendor)
    return value(found[0]) if found else None


def rules_of(cca):
    rules = []
    for install in [a for a in cca.avps if a.code == AVP_TGPP_CHARGING_RULE_INSTALL and a.vendor_id == VENDOR_TGPP]:
        for d in children(install, AVP_TGPP_CHARGING_RULE_DEFINITION):
            flows = [
                {
                    "description": first(f, AVP_TGPP_FLOW_DESCRIPTION),
                    "direction": first(f, AVP_TGPP_FLOW_DIRECTION),
                }
                for f in children(d, AVP_TGPP_FLOW_INFORMATION)
            ]
            rules.append(
                {
                    "name": first(d, AVP_TGPP_CHARGING_RULE_NAME),
                    "precedence": first(d, AVP_TGPP_PRECEDENCE),
                    "flow_status": first(d, AVP_TGPP_FLOW_STATUS),
                    "flows": flows,
                }
            )
    return rules


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--imsi", required=True)
    p.add_argument("--ip", required=True)
    p.add_argument("--apn", default="internet")
    a = p.parse_args()
    host, port = a.addr.rsplit(":", 1)
    if not ipaddress.ip_address(host.strip("[]")).is_loopback:
        fail("only loopback addresses may be the target")

    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
    state = int(time.time()) & 0xFFFFFFFF

    cer = CapabilitiesExchangeRequest()
    cer.origin_host = a.host.encode()
    cer.origin_realm = a.realm.encode()
    cer.host_ip_address = ["127.0.0.1"]
    cer.vendor_id = 0
    cer.product_name = "python-diameter P-GW"
    cer.origin_state_id = state
    cer.supported_vendor_id = [VENDOR_TGPP]
    cer.vendor_specific_application_id = [VendorSpecificApplicationId(vendor_id=VENDOR_TGPP, auth_application_id=GX)]
    cea = exchange(sock, cer, 1)
    cea_result = [value(x) for x in cea.avps if x.code == AVP_RESULT_CODE and x.vendor_id == 0]
    if cea_result != [2001]:
        fail(f"CEA Result-Code {cea_result}")

    ccr = CreditControlRequest()
    ccr.header.application_id = GX
    ccr.session_id = f"{a.host};{state};{os.getpid()}"
    ccr.origin_host = a.host.encode()
    ccr.origin_realm = a.realm.encode()
    ccr.destination_realm = a.realm.encode()
    ccr.auth_application_id = GX
    ccr.cc_request_type = CCR_INITIAL
    ccr.cc_request_number = 0
    ccr.origin_state_id = state
    ccr.subscription_id = [SubscriptionId(subscription_id_type=END_USER_IMSI, subscription_id_data=a.imsi)]
    ccr.ip_can_type = EPS
    ccr.rat_type = EUTRAN
    ccr.framed_ip_address = ipaddress.IPv4Address(a.ip).packed
    ccr.called_station_id = a.apn
    cca = exchange(sock, ccr, 2)

    result = [value(x) for x in cca.avps if x.code == AVP_RESULT_CODE and x.vendor_id == 0]
    experimental = [
        first(x, AVP_EXPERIMENTAL_RESULT_CODE, 0)
        for x in cca.avps
        if x.code == AVP_EXPERIMENTAL_RESULT and x.vendor_id == 0
    ]
    out = {
        "result_code": result[0] if result else None,
        "experimental_result_code": experimental[0] if experimental else None,
        "rules": rules_of(cca),
    }

    dpr = DisconnectPeerRequest()
    dpr.origin_host = a.host.encode()
    dpr.origin_realm = a.realm.encode()
    dpr.disconnect_cause = 0
    try:
        exchange(sock, dpr, 3)
    except (OSError, SystemExit):
        pass
    sock.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
