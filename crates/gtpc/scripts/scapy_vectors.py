#!/usr/bin/env python3
"""Writes crates/gtpc/tests/data/*.hex: GTP-C messages built by PyPI scapy (scapy.contrib.gtp_v2 and
scapy.contrib.gtp), an implementation nobody on this project wrote, as conformance input for the gtpc
crate's decoder (crates/gtpc/tests/scapy.rs asserts the fields and the byte-exact re-encoding).

Origin: every byte comes from scapy's own field encoders; the values below are arbitrary test values.
Run from anywhere: `python3 crates/gtpc/scripts/scapy_vectors.py` (writes) or `--check` (compares with
the files in the repository and exits 1 on a difference).
"""

import os
import sys

from scapy.contrib import gtp
from scapy.contrib import gtp_v2 as g2

# The scapy release that wrote tests/data (pinned in .ci/run); `--check` compares only with it.
SCAPY_VERSION = "2.8.0"

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")

IMSI = "001010123456789"
MSISDN = "491711234567"
MEI = "3569380356438091"  # IMEISV, 16 digits


def v2(gtp_type, ies, teid=None, seq=0, p=0):
    if teid is None:
        hdr = g2.GTPHeader(gtp_type=gtp_type, T=0, P=p, seq=seq)
    else:
        hdr = g2.GTPHeader(gtp_type=gtp_type, T=1, P=p, teid=teid, seq=seq)
    return bytes(hdr / g2.GTPV2Command(IE_list=ies))


def create_session_request():
    return v2(32, [
        g2.IE_IMSI(IMSI=IMSI),
        g2.IE_MSISDN(digits=MSISDN),
        g2.IE_MEI(MEI=MEI),
        g2.IE_ULI(TAI_Present=1, ECGI_Present=1,
                  TAI=g2.ULI_TAI(MCC="262", MNC="01", TAC=0x1234),
                  ECGI=g2.ULI_ECGI(MCC="262", MNC="01", ECI=0x0ABCDEF)),
        g2.IE_ServingNetwork(MCC="262", MNC="01"),
        g2.IE_RAT(RAT_type=6),
        g2.IE_FTEID(instance=0, ipv4_present=1, InterfaceType=6, GRE_Key=0x11223344, ipv4="192.0.2.10"),
        g2.IE_FTEID(instance=1, ipv4_present=1, InterfaceType=7, GRE_Key=0, ipv4="198.51.100.1"),
        g2.IE_APN(APN="internet.mnc001.mcc262.gprs"),
        g2.IE_SelectionMode(SelectionMode=0),
        g2.IE_PDN_type(PDN_type=1),
        g2.IE_PAA(PDN_type=1, ipv4="0.0.0.0"),
        g2.IE_AMBR(AMBR_Uplink=50000, AMBR_Downlink=150000),
        g2.IE_BearerContext(IE_list=[
            g2.IE_EPSBearerID(EBI=5),
            g2.IE_FTEID(instance=2, ipv4_present=1, InterfaceType=4, GRE_Key=0x55667788, ipv4="192.0.2.11"),
            g2.IE_Bearer_QoS(PriorityLevel=9, PVI=1, QCI=9),
        ]),
        g2.IE_RecoveryRestart(restart_counter=7),
        g2.IE_UE_Timezone(Timezone=0x40, DST=1),
    ], teid=0, seq=0x00abcd)


def create_session_response():
    return v2(33, [
        g2.IE_Cause(Cause=16),
        g2.IE_FTEID(instance=1, ipv4_present=1, InterfaceType=7, GRE_Key=0x99aabbcc, ipv4="198.51.100.1"),
        g2.IE_PAA(PDN_type=1, ipv4="10.45.0.2"),
        g2.IE_BearerContext(IE_list=[
            g2.IE_EPSBearerID(EBI=5),
            g2.IE_Cause(Cause=16),
            g2.IE_FTEID(instance=2, ipv4_present=1, InterfaceType=5, GRE_Key=0x0000beef, ipv4="198.51.100.2"),
        ]),
        g2.IE_RecoveryRestart(restart_counter=3),
    ], teid=0x11223344, seq=0x00abcd)


def echo_request():
    return v2(1, [g2.IE_RecoveryRestart(restart_counter=42)], seq=0x000102)


def delete_session_request():
    return v2(36, [g2.IE_EPSBearerID(EBI=5), g2.IE_Indication(length=2, OI=1)], teid=0x99aabbcc, seq=0x000201)


def delete_session_response():
    # A rejection: Context Not Found, caused by the remote node (CS flag).
    return v2(37, [g2.IE_Cause(Cause=64, CS=1)], teid=0x11223344, seq=0x000201)


def piggybacked():
    # A Create Session Response with a Create Bearer Request piggybacked (TS 29.274 §5.5.1).
    first = v2(33, [g2.IE_Cause(Cause=16)], teid=0x11223344, seq=0x000300, p=1)
    second = v2(95, [g2.IE_EPSBearerID(EBI=5)], teid=0x11223344, seq=0x000301)
    return first + second


def v1_create_pdp_context_request():
    hdr = gtp.GTPHeader(gtp_type=16, teid=0, S=1, seq=0x1234)
    ies = [
        gtp.IE_IMSI(imsi=IMSI),
        gtp.IE_Routing(MCC="262", MNC="01", LAC=0x0102, RAC=0x03),
        gtp.IE_Recovery(restart_counter=9),
        gtp.IE_SelectionMode(SelectionMode=0xfc),
        gtp.IE_TEIDI(TEIDI=0x01020304),
        gtp.IE_TEICP(TEICI=0x05060708),
        gtp.IE_NSAPI(NSAPI=5),
        gtp.IE_EndUserAddress(length=2, PDPTypeOrganization=1, PDPTypeNumber=0x21),
        gtp.IE_AccessPointName(APN="internet"),
        gtp.IE_GSNAddress(length=4, ipv4_address="192.0.2.20"),
        gtp.IE_GSNAddress(length=4, ipv4_address="192.0.2.21"),
        gtp.IE_MSInternationalNumber(length=7, digits=MSISDN),
        gtp.IE_NotImplementedTLV(ietype=135, length=4, data=b"\x02\x1b\x92\x1f"),
        gtp.IE_RATType(RAT_Type=1),
        # scapy 2.x computes this IE's length for a four-octet IE header (GTPv2's), one too short for
        # GTPv1's three: the length is given here.
        gtp.IE_UserLocationInformation(length=8, type=0, MCC="262", MNC="01", LAC=0x0102, SAC=0x0304),
    ]
    return bytes(hdr / gtp.GTPCreatePDPContextRequest(IE_list=ies))


def v1_create_pdp_context_response():
    hdr = gtp.GTPHeader(gtp_type=17, teid=0x05060708, S=1, seq=0x1234)
    ies = [
        gtp.IE_Cause(CauseValue=128),
        gtp.IE_Recovery(restart_counter=11),
        gtp.IE_TEIDI(TEIDI=0x0a0b0c0d),
        gtp.IE_TEICP(TEICI=0x0e0f1011),
        gtp.IE_ChargingId(Charging_id=0x12345678),
        gtp.IE_EndUserAddress(length=6, PDPTypeOrganization=1, PDPTypeNumber=0x21, PDPAddress="10.1.2.3"),
        gtp.IE_GSNAddress(length=4, ipv4_address="198.51.100.20"),
        gtp.IE_GSNAddress(length=4, ipv4_address="198.51.100.21"),
        gtp.IE_NotImplementedTLV(ietype=135, length=4, data=b"\x02\x1b\x92\x1f"),
    ]
    return bytes(hdr / gtp.GTPCreatePDPContextResponse(IE_list=ies))


def v1_update_pdp_context_request():
    hdr = gtp.GTPHeader(gtp_type=18, teid=0x0e0f1011, S=1, seq=0x1236)
    ies = [
        gtp.IE_Recovery(restart_counter=9),
        gtp.IE_TEIDI(TEIDI=0x01020305),
        gtp.IE_TEICP(TEICI=0x05060708),
        gtp.IE_NSAPI(NSAPI=5),
        gtp.IE_GSNAddress(length=4, ipv4_address="192.0.2.30"),
        gtp.IE_GSNAddress(length=4, ipv4_address="192.0.2.31"),
        gtp.IE_NotImplementedTLV(ietype=135, length=4, data=b"\x02\x1b\x92\x1f"),
        gtp.IE_RATType(RAT_Type=2),
    ]
    return bytes(hdr / gtp.GTPUpdatePDPContextRequest(IE_list=ies))


def v1_echo_request():
    return bytes(gtp.GTPHeader(gtp_type=1, teid=0, S=1, seq=0x0042) / gtp.GTPEchoRequest())


def v1_delete_pdp_context_request():
    hdr = gtp.GTPHeader(gtp_type=20, teid=0x05060708, S=1, seq=0x1235)
    return bytes(hdr / gtp.GTPDeletePDPContextRequest(IE_list=[gtp.IE_Teardown(), gtp.IE_NSAPI(NSAPI=5)]))


VECTORS = {
    "v2_create_session_request": create_session_request,
    "v2_create_session_response": create_session_response,
    "v2_echo_request": echo_request,
    "v2_delete_session_request": delete_session_request,
    "v2_delete_session_response": delete_session_response,
    "v2_piggybacked": piggybacked,
    "v1_create_pdp_context_request": v1_create_pdp_context_request,
    "v1_create_pdp_context_response": v1_create_pdp_context_response,
    "v1_update_pdp_context_request": v1_update_pdp_context_request,
    "v1_echo_request": v1_echo_request,
    "v1_delete_pdp_context_request": v1_delete_pdp_context_request,
}


def main():
    check = "--check" in sys.argv
    import scapy
    if check and scapy.__version__ != SCAPY_VERSION:
        print("scapy", scapy.__version__, "is not", SCAPY_VERSION, "which wrote the vectors: not compared")
        return
    bad = []
    for name, make in VECTORS.items():
        text = make().hex() + "\n"
        path = os.path.join(DATA, name + ".hex")
        if check:
            with open(path) as f:
                if f.read() != text:
                    bad.append(name)
        else:
            with open(path, "w") as f:
                f.write(text)
    if bad:
        print("differs from scapy's encoding:", ", ".join(bad))
        sys.exit(1)
    print(("checked" if check else "wrote"), len(VECTORS), "vectors")


if __name__ == "__main__":
    main()
