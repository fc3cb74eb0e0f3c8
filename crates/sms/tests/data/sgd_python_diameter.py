"""Cross-checks SGd bytes with python-diameter (PyPI), a codec nobody on the project wrote.

`decode HEX`: reads a message and prints its header and every AVP (code, vendor, flags, type
name from python-diameter's dictionary, value) as JSON, grouped AVPs nested.
`ofr`: builds an MO-Forward-Short-Message request with python-diameter's AVP classes and prints
its bytes as hex.
"""
import json
import sys

from diameter.message import Message, MessageHeader, Avp
from diameter.message.avp import AvpGrouped
from diameter.message import constants as c

VENDOR = c.VENDOR_TGPP


def describe(avp):
    out = {
        "code": avp.code,
        "vendor": avp.vendor_id,
        "mandatory": avp.is_mandatory,
        "vendor_bit": avp.is_vendor,
        "name": avp.name,
        "type": type(avp).__name__,
    }
    if isinstance(avp, AvpGrouped):
        out["value"] = [describe(a) for a in avp.value]
    elif isinstance(avp.value, bytes):
        out["value"] = avp.value.hex()
    else:
        out["value"] = avp.value
    return out


def decode(hexstr):
    m = Message.from_bytes(bytes.fromhex(hexstr))
    h = m.header
    print(json.dumps({
        "command_code": h.command_code,
        "application_id": h.application_id,
        "request": h.is_request,
        "proxyable": h.is_proxyable,
        "avps": [describe(a) for a in m.avps],
    }))


def ofr():
    h = MessageHeader(command_code=c.CMD_MO_FORWARD_SHORT_MESSAGE, application_id=c.APP_3GPP_SGD)
    h.is_request = True
    h.is_proxyable = True
    h.hop_by_hop_identifier = 0x1234
    h.end_to_end_identifier = 0x5678
    user = Avp.new(c.AVP_TGPP_USER_IDENTIFIER, VENDOR, value=[
        Avp.new(c.AVP_USER_NAME, value="001010000000001"),
        Avp.new(c.AVP_TGPP_MSISDN, VENDOR, value=bytes.fromhex("947100000010")),
    ])
    avps = [
        Avp.new(c.AVP_SESSION_ID, value="mme-py.home.example;1;1"),
        Avp.new(c.AVP_AUTH_SESSION_STATE, value=1),
        Avp.new(c.AVP_ORIGIN_HOST, value=b"mme-py.home.example"),
        Avp.new(c.AVP_ORIGIN_REALM, value=b"home.example"),
        Avp.new(c.AVP_DESTINATION_REALM, value=b"home.example"),
        Avp.new(c.AVP_TGPP_SC_ADDRESS, VENDOR, value=bytes.fromhex("9401")),
        user,
        Avp.new(c.AVP_TGPP_SM_RP_UI, VENDOR, value=bytes.fromhex("11070c9194711132547600 04a70568656c6c6f".replace(" ", ""))),
    ]
    print(Message(h, avps).as_bytes().hex())


if __name__ == "__main__":
    if sys.argv[1] == "decode":
        decode(sys.argv[2])
    else:
        ofr()
