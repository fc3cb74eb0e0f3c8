#!/usr/bin/env python3
"""A minimal SMSC for Warden's SMPP client tests, speaking through PyPI smpplib's PDU classes.

Every PDU the client sends is parsed with smpplib.smpp.parse_pdu, every PDU sent to it is built
with smpplib.smpp.make_pdu(...).generate(): the codec on this side is smpplib's, not Warden's.
smpplib only ships an ESME (client) loop, so the server loop around its PDU classes is this file.

Listens on 127.0.0.1 (an ephemeral port, printed as the first line: {"event": "listening", "port": N}).
Writes one JSON event per line on stdout; takes one JSON command per line on stdin:
  {"cmd": "throttle", "count": N, "status": S}   answer the next N submit_sm with status S (0x58)
 {"cmd": "hold"}                                  keep submit_sm responses back until "release"
  {"cmd": "release"}                              send the held responses
  {"cmd": "mute"} / {"cmd": "unmute"}             stop / resume answering anything (PDUs are still reported)
  {"cmd": "raw", "hex": ...}                      send these octets as they are
  {"cmd": "drop"}                                 close the current connection without unbind
  {"cmd": "unbind"}                               send unbind to the client
  {"cmd": "enquire_link"}                         send enquire_link to the client
  {"cmd": "receipt", "message_id": ..., "stat": ..., "tlvs": bool}   send a delivery receipt
  {"cmd": "mo", "source_addr": ..., "destination_addr": ..., "short_message": hex,
   "esm_class": E, "protocol_id": P, "data_coding": D}               send an MO deliver_sm
  {"cmd": "pcap", "path": ...}                    write the traffic so far as a pcap (scapy)
  {"cmd": "quit"}
Arguments: --system-id ID --password PW (the credentials it accepts).
"""

import argparse
import json
import socket
import struct
import sys
import threading

from smpplib import client as smpp_client
from smpplib import smpp

LOCK = threading.Lock()
SEQ = smpp_client.SimpleSequenceGenerator()


def emit(**event):
    with LOCK:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


class Smsc:
    def __init__(self, system_id, password):
        self.system_id = system_id
        self.password = password
        self.conn = None
        self.conn_lock = threading.Lock()
        self.throttle = 0
        self.throttle_status = 0x58
        self.hold = False
        self.mute = False
        self.held = []
        self.next_message_id = 1
        self.traffic = []  # (connection number, from_client, bytes)
        self.connections = 0
        self.port = None

    def send(self, conn, pdu, number):
        data = pdu.generate()
        self.traffic.append((number, False, data))
        conn.sendall(data)

    def respond(self, conn, number, name, sequence, status=0, **fields):
        if self.mute:
            return
        pdu = smpp.make_pdu(name, client=SEQ, **fields)
        pdu.sequence = sequence  # make_pdu ignores a sequence keyword on responses
        pdu.status = status
        self.send(conn, pdu, number)

    def serve(self, listener):
        while True:
            conn, _ = listener.accept()
            self.connections += 1
            number = self.connections
            with self.conn_lock:
                self.conn = (conn, number)
            emit(event="connected", connection=number)
            threading.Thread(target=self.session, args=(conn, number), daemon=True).start()

    def read_pdu(self, conn):
        header = b""
        while len(header) < 4:
            chunk = conn.recv(4 - len(header))
            if not chunk:
                return None
            header += chunk
        (length,) = struct.unpack(">L", header)
        data = header
        while len(data) < length:
            chunk = conn.recv(length - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def session(self, conn, number):
        try:
            while True:
                data = self.read_pdu(conn)
                if data is None:
                    break
                self.traffic.append((number, True, data))
                pdu = smpp.parse_pdu(data, client=SEQ, allow_unknown_opt_params=True)
                self.handle(conn, number, pdu, data)
        except OSError:
            pass
        emit(event="closed", connection=number)

    def handle(self, conn, number, pdu, data):
        cmd = pdu.command
        if cmd in ("bind_transceiver", "bind_transmitter", "bind_receiver"):
            ok = text(pdu.system_id) == self.system_id and text(pdu.password) == self.password
            emit(event="bind", command=cmd, system_id=text(pdu.system_id), system_type=text(pdu.system_type),
                 interface_version=pdu.interface_version, ok=ok)
            # ESME_RINVPASWD (0x0E) for a wrong password, ESME_RINVSYSID (0x0F) for an unknown system_id.
            status = 0 if ok else (0x0E if text(pdu.system_id) == self.system_id else 0x0F)
            self.respond(conn, number, cmd + "_resp", pdu.sequence, status, system_id="SMSCSIM")
        elif cmd == "submit_sm":
            if self.throttle > 0:
                self.throttle -= 1
                status, message_id = self.throttle_status, ""
            else:
                status, message_id = 0, "sim-%d" % self.next_message_id
                self.next_message_id += 1
            payload = getattr(pdu, "message_payload", None)
            emit(event="submit_sm", sequence=pdu.sequence, status=status, message_id=message_id,
                 source_addr_ton=pdu.source_addr_ton, source_addr_npi=pdu.source_addr_npi,
                 source_addr=text(pdu.source_addr), dest_addr_ton=pdu.dest_addr_ton,
                 dest_addr_npi=pdu.dest_addr_npi, destination_addr=text(pdu.destination_addr),
                 esm_class=pdu.esm_class, protocol_id=pdu.protocol_id, data_coding=pdu.data_coding,
                 registered_delivery=pdu.registered_delivery,
                 short_message=(pdu.short_message or b"").hex(),
                 message_payload=payload.hex() if payload else None)
            with self.conn_lock:
                if self.hold:
                    self.held.append((conn, number, pdu.sequence, status, message_id))
                    return
            self.respond(conn, number, "submit_sm_resp", pdu.sequence, status, message_id=message_id or None)
        elif cmd == "enquire_link":
            emit(event="enquire_link", sequence=pdu.sequence)
            self.respond(conn, number, "enquire_link_resp", pdu.sequence)
        elif cmd == "enquire_link_resp":
            emit(event="enquire_link_resp", sequence=pdu.sequence, status=pdu.status)
        elif cmd == "deliver_sm_resp":
            emit(event="deliver_sm_resp", sequence=pdu.sequence, status=pdu.status)
        elif cmd == "unbind":
            emit(event="unbind", sequence=pdu.sequence)
            self.respond(conn, number, "unbind_resp", pdu.sequence)
        elif cmd == "unbind_resp":
            emit(event="unbind_resp", sequence=pdu.sequence)
        else:
            emit(event="other", command=cmd, status=pdu.status, sequence=pdu.sequence)

    def current(self):
        with self.conn_lock:
            return self.conn

    def command(self, c):
        name = c["cmd"]
        if name == "throttle":
            self.throttle = c.get("count", 1)
            self.throttle_status = c.get("status", 0x58)
        elif name == "hold":
            with self.conn_lock:
                self.hold = True
        elif name == "release":
            with self.conn_lock:
                self.hold = False
                held, self.held = self.held, []
            for conn, number, sequence, status, message_id in held:
                self.respond(conn, number, "submit_sm_resp", sequence, status, message_id=message_id or None)
        elif name in ("mute", "unmute"):
            self.mute = name == "mute"
        elif name == "raw":
            conn, number = self.current()
            data = bytes.fromhex(c["hex"])
            self.traffic.append((number, False, data))
            conn.sendall(data)
        elif name == "drop":
            conn, _ = self.current()
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        elif name in ("unbind", "enquire_link"):
            conn, number = self.current()
            self.send(conn, smpp.make_pdu(name, client=SEQ), number)
        elif name == "receipt":
            conn, number = self.current()
            body = ("id:%s sub:001 dlvrd:001 submit date:2612041530 done date:2612041531 stat:%s err:000 text:"
                    % (c["message_id"], c["stat"])).encode()
            fields = dict(source_addr_ton=1, source_addr_npi=1, source_addr=c.get("source_addr", "491701234567"),
                          dest_addr_ton=1, dest_addr_npi=1, destination_addr="4915550", esm_class=0x04,
                          short_message=body)
            if c.get("tlvs"):
                states = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7,
                          "REJECTD": 8}
                fields.update(receipted_message_id=c["message_id"], message_state=states[c["stat"]])
            pdu = smpp.make_pdu("deliver_sm", client=SEQ, **fields)
            emit(event="sent_deliver_sm", sequence=pdu.sequence)
            self.send(conn, pdu, number)
        elif name == "mo":
            conn, number = self.current()
            pdu = smpp.make_pdu("deliver_sm", client=SEQ, source_addr_ton=1, source_addr_npi=1,
                                source_addr=c["source_addr"], dest_addr_ton=c.get("dest_addr_ton", 1),
                                dest_addr_npi=1, destination_addr=c["destination_addr"],
                                esm_class=c.get("esm_class", 0), protocol_id=c.get("protocol_id", 0),
                                data_coding=c.get("data_coding", 0),
                                short_message=bytes.fromhex(c["short_message"]))
            emit(event="sent_deliver_sm", sequence=pdu.sequence)
            self.send(conn, pdu, number)
        elif name == "pcap":
            self.write_pcap(c["path"])
            emit(event="pcap", path=c["path"])
        elif name == "quit":
            sys.exit(0)

    def write_pcap(self, path):
        """The traffic as TCP segments on loopback (one TCP stream per connection), for tshark."""
        from scapy.all import IP, TCP, Raw, wrpcap

        packets = []
        streams = {}
        for number, from_client, data in self.traffic:
            cport = 40000 + number
            if number not in streams:
                c_seq, s_seq = 1000, 5000
                packets.append(IP(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=cport, dport=self.port, flags="S", seq=c_seq - 1))
                packets.append(IP(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=self.port, dport=cport, flags="SA", seq=s_seq - 1, ack=c_seq))
                packets.append(IP(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=cport, dport=self.port, flags="A", seq=c_seq, ack=s_seq))
                streams[number] = [c_seq, s_seq]
            c_seq, s_seq = streams[number]
            if from_client:
                packets.append(IP(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=cport, dport=self.port, flags="PA", seq=c_seq, ack=s_seq) / Raw(data))
                streams[number][0] += len(data)
            else:
                packets.append(IP(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=self.port, dport=cport, flags="PA", seq=s_seq, ack=c_seq) / Raw(data))
                streams[number][1] += len(data)
        wrpcap(path, packets)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--system-id", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    smsc = Smsc(args.system_id, args.password)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    smsc.port = listener.getsockname()[1]
    threading.Thread(target=smsc.serve, args=(listener,), daemon=True).start()
    emit(event="listening", port=smsc.port)
    for line in sys.stdin:
        line = line.strip()
        if line:
            try:
                command = json.loads(line)
                smsc.command(command)
                emit(event="done", cmd=command.get("cmd"))
            except Exception as e:  # a bad command is reported, the SMSC keeps running
                emit(event="error", error=repr(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
