"""An independent Gx client (PyPI python-diameter) for crates/pcrf/tests/python_client.rs.

Connects to the PCRF at 127.0.0.1:<port> as a P-GW, sends CCR-I for <imsi>, prints the CCA's
result and Flow-Descriptions as a JSON line, waits for a line on stdin, then for the PCRF's RAR
(answered DIAMETER_SUCCESS), prints what it carried, sends CCR-T and prints its result.
"""
import json
import queue
import sys

from diameter.message import Message
from diameter.message.avp.grouped import SubscriptionId
from diameter.message.commands.credit_control import CreditControlRequest
from diameter.message.constants import (APP_3GPP_GX, AVP_TGPP_CHARGING_RULE_DEFINITION,
                                        AVP_TGPP_CHARGING_RULE_INSTALL, AVP_TGPP_CHARGING_RULE_NAME,
                                        AVP_TGPP_CHARGING_RULE_REMOVE, AVP_TGPP_FLOW_DESCRIPTION,
                                        AVP_TGPP_FLOW_INFORMATION, VENDOR_TGPP)
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

PGW = "pgwpy.warden.test"
REALM = "epc.mnc001.mcc001.3gppnetwork.org"
port, imsi = int(sys.argv[1]), sys.argv[2]
requests = queue.Queue()

# The typed Credit-Control classes keep only the Charging-Rule-Names of a Charging-Rule-Install; every
# received message also keeps its bytes, decoded again as a plain AVP tree where the whole rule is.
_from_bytes = Message.from_bytes.__func__


def _keep_bytes(cls, data, plain_msg=False):
    m = _from_bytes(cls, data, plain_msg)
    m.raw = bytes(data)
    return m


Message.from_bytes = classmethod(_keep_bytes)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def flows(msg):
    path = [(AVP_TGPP_CHARGING_RULE_INSTALL, VENDOR_TGPP), (AVP_TGPP_CHARGING_RULE_DEFINITION, VENDOR_TGPP),
            (AVP_TGPP_FLOW_INFORMATION, VENDOR_TGPP), (AVP_TGPP_FLOW_DESCRIPTION, VENDOR_TGPP)]
    return [text(a.value) for a in Message.from_bytes(msg.raw, plain_msg=True).find_avps(*path)]


def handle(app, msg):
    requests.put(msg)
    return app.generate_answer(msg, result_code=2001)


def ccr(kind, number):
    m = CreditControlRequest()
    m.header.application_id = APP_3GPP_GX
    m.session_id = f"{PGW};1;py"
    m.origin_host = PGW.encode()
    m.origin_realm = REALM.encode()
    m.destination_realm = REALM.encode()
    m.auth_application_id = APP_3GPP_GX
    m.cc_request_type = kind
    m.cc_request_number = number
    return m


node = Node(PGW, REALM, vendor_ids=[VENDOR_TGPP])
peer = node.add_peer(f"aaa://pcrf.warden.test:{port};transport=tcp", REALM, ip_addresses=["127.0.0.1"],
                     is_persistent=True)
app = SimpleThreadingApplication(APP_3GPP_GX, is_auth_application=True, request_handler=handle)
node.add_application(app, [peer])
node.start()
try:
    app.wait_for_ready(timeout=10)
    m = ccr(1, 0)
    m.subscription_id = [SubscriptionId(subscription_id_type=1, subscription_id_data=imsi)]
    m.framed_ip_address = bytes([10, 45, 0, 77])
    m.ip_can_type = 5
    m.rat_type = 1004
    m.called_station_id = "meters.example"
    cca = app.send_request(m, timeout=10)
    print(json.dumps({"step": "cca-i", "result": cca.result_code, "flows": flows(cca)}), flush=True)
    sys.stdin.readline()
    rar = requests.get(timeout=10)
    removed = [text(a.value) for a in Message.from_bytes(rar.raw, plain_msg=True).find_avps((AVP_TGPP_CHARGING_RULE_REMOVE, VENDOR_TGPP),
                                                     (AVP_TGPP_CHARGING_RULE_NAME, VENDOR_TGPP))]
    print(json.dumps({"step": "rar", "code": rar.header.command_code, "app": rar.header.application_id,
                      "flows": flows(rar), "removed": removed}), flush=True)
    cca = app.send_request(ccr(3, 1), timeout=10)
    print(json.dumps({"step": "cca-t", "result": cca.result_code}), flush=True)
finally:
    node.stop(wait_timeout=2, force=True)
