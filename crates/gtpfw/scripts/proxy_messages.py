#!/usr/bin/env python3
"""Prints, as JSON {name: hex}, the GTPv2-C messages the UDP proxy test (crates/gtpfw/tests/proxy.rs)
sends through the GTP-C firewall, built by PyPI scapy (scapy.contrib.gtp_v2), an implementation
nobody on this project wrote. Values are arbitrary test values; the IMSI is a home one (001 01).

`python3 crates/gtpfw/scripts/proxy_messages.py` prints the messages;
`python3 crates/gtpfw/scripts/proxy_messages.py --pcap OUT HEX...` writes the given datagrams into
a pcap as UDP 2123 (for tshark).
"""

import json
import sys

from scapy.contrib import gtp_v2 as g2

IMSI = "001010123456789"
SGW_TEID = 0x11223344
PGW_TEID = 0x0A0B0C0D
SGW_TEID_2 = 0x55667788
PGW_TEID_2 = 0x0E0F1011


def v2(gtp_type, ies, teid=None, seq=0):
    # scapy's header sets P (piggyback) by default: cleared here.
    if teid is None:
        hdr = g2.GTPHeader(gtp_type=gtp_type, T=0, P=0, seq=seq)
    else:
        hdr = g2.GTPHeader(gtp_type=gtp_type, T=1, P=0, teid=teid, seq=seq)
    return bytes(hdr / g2.GTPV2Command(IE_list=ies))


def create_session_request(seq, mcc="262", mnc="01", sgw_teid=SGW_TEID):
    return v2(32, [
        g2.IE_IMSI(IMSI=IMSI),
        g2.IE_ServingNetwork(MCC=mcc, MNC=mnc),
        g2.IE_RAT(RAT_type=6),
        g2.IE_FTEID(instance=0, ipv4_present=1, InterfaceType=6, GRE_Key=sgw_teid, ipv4="192.0.2.10"),
        g2.IE_APN(APN="internet.mnc001.mcc001.gprs"),
        g2.IE_SelectionMode(SelectionMode=0),
        g2.IE_PDN_type(PDN_type=1),
        g2.IE_PAA(PDN_type=1, ipv4="0.0.0.0"),
        g2.IE_BearerContext(IE_list=[
            g2.IE_EPSBearerID(EBI=5),
            g2.IE_Bearer_QoS(PriorityLevel=9, PVI=1, QCI=9),
        ]),
        g2.IE_RecoveryRestart(restart_counter=7),
    ], teid=0, seq=seq)


def messages():
    csr = create_session_request(0x000101)
    # The IMSI IE's length (octets 13-14) made to run past the message.
    malformed = bytearray(create_session_request(0x000105))
    malformed[13:15] = b"\xff\xff"
    return {
        "create_session_request": csr,
        "create_session_response": v2(33, [
            g2.IE_Cause(Cause=16),
            g2.IE_FTEID(instance=1, ipv4_present=1, InterfaceType=7, GRE_Key=PGW_TEID, ipv4="198.51.100.1"),
            g2.IE_PAA(PDN_type=1, ipv4="10.45.0.2"),
            g2.IE_BearerContext(IE_list=[g2.IE_EPSBearerID(EBI=5), g2.IE_Cause(Cause=16)]),
        ], teid=SGW_TEID, seq=0x000101),
        "spoofed_serving_network": create_session_request(0x000102, mcc="208", mnc="01"),
        "foreign_delete_session_request": v2(36, [g2.IE_EPSBearerID(EBI=5)], teid=PGW_TEID, seq=0x000103),
        "delete_session_request": v2(36, [g2.IE_EPSBearerID(EBI=5)], teid=PGW_TEID, seq=0x000104),
        "delete_session_response": v2(37, [g2.IE_Cause(Cause=16)], teid=SGW_TEID, seq=0x000104),
        "unsolicited_create_bearer_response": v2(96, [g2.IE_Cause(Cause=16)], teid=PGW_TEID, seq=0x000777),
        "echo_request": v2(1, [g2.IE_RecoveryRestart(restart_counter=7)], seq=0x000106),
        "echo_response": v2(2, [g2.IE_RecoveryRestart(restart_counter=3)], seq=0x000106),
        "malformed_ie_length": bytes(malformed),
        # A second PDN connection, which the P-GW then deletes with a Delete Bearer Request naming
        # its default bearer (Linked EPS Bearer ID, EBI instance 0; TS 29.274 §7.2.9.2).
        "create_session_request_2": create_session_request(0x000201, sgw_teid=SGW_TEID_2),
        "create_session_response_2": v2(33, [
            g2.IE_Cause(Cause=16),
            g2.IE_FTEID(instance=1, ipv4_present=1, InterfaceType=7, GRE_Key=PGW_TEID_2, ipv4="198.51.100.1"),
            g2.IE_BearerContext(IE_list=[g2.IE_EPSBearerID(EBI=5), g2.IE_Cause(Cause=16)]),
        ], teid=SGW_TEID_2, seq=0x000201),
        "delete_bearer_request": v2(99, [g2.IE_EPSBearerID(EBI=5)], teid=SGW_TEID_2, seq=0x000301),
        "delete_bearer_response": v2(100, [
            g2.IE_Cause(Cause=16),
            g2.IE_BearerContext(IE_list=[g2.IE_EPSBearerID(EBI=5), g2.IE_Cause(Cause=16)]),
        ], teid=PGW_TEID_2, seq=0x000301),
    }


def write_pcap(path, datagrams):
    from scapy.all import IP, UDP, Raw, wrpcap
    wrpcap(path, [IP(src="127.0.0.1", dst="127.0.0.2") / UDP(sport=2123, dport=2123) / Raw(d) for d in datagrams])


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--pcap":
        write_pcap(sys.argv[2], [bytes.fromhex(h) for h in sys.argv[3:]])
    else:
        print(json.dumps({k: v.hex() for k, v in messages().items()}))
