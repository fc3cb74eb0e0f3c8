#!/usr/bin/env python3
"""An LwM2M device for crates/warden/tests/bootstrap.rs, on PyPI aiocoap with its tinydtls transport
(PyPI DTLSSocket): CoAP and DTLS-PSK are theirs; this script only plays the device's part of the
client-initiated bootstrap (LwM2M Core 1.1 section 6.1).

1. POST coaps://BS/bs?ep=EP with the bootstrap PSK (identity and key as given); with --plain,
   coap://BS/bs?ep=EP without DTLS (a lab's NoSec bootstrap).
2. Answer the bootstrap server's Delete /0 and /1 (2.02), Write /0/x and /1/y (2.04, the TLV payload
   decoded here) and Bootstrap-Finish POST /bs (2.04). With --refuse-write the Security write is
   answered 4.00 instead, as a device would a payload it cannot take.
3. With the account received (server URI, PSK identity, PSK key from /0/x), register at the LwM2M
   server: POST coaps://SERVER/rd?ep=EP&lt=..&lwm2m=1.1&b=U over a new DTLS session with that PSK,
   retried for a few seconds.

Prints one JSON object: what the server sent (method and path of each request), the Security and
Server resources it wrote (opaque values in hex), the codes of the Bootstrap-Request and of the
registration, or the error.
"""

import argparse
import asyncio
import json
import sys

import aiocoap
from aiocoap import Code, Message
from aiocoap import resource


def tlv_resources(data):
    """Resource entries of an LwM2M TLV payload (type byte: bits 7-6 kind, bit 5 16-bit id, bits 4-3
    length size, bits 2-0 length), as {id: bytes}; an object-instance wrapper is looked into."""
    out = {}
    pos = 0
    while pos < len(data):
        t = data[pos]
        pos += 1
        id_len = 2 if t & 0x20 else 1
        ident = int.from_bytes(data[pos:pos + id_len], "big")
        pos += id_len
        len_len = (t >> 3) & 3
        if len_len:
            length = int.from_bytes(data[pos:pos + len_len], "big")
            pos += len_len
        else:
            length = t & 7
        value = data[pos:pos + length]
        if len(value) != length:
            raise ValueError("TLV cut at %d" % pos)
        pos += length
        kind = t >> 6
        if kind == 0:
            out.update(tlv_resources(value))
        else:
            out[ident] = value
    return out


def tlv_int(b):
    return int.from_bytes(b, "big", signed=True)


class Device(resource.Resource):
    def __init__(self, refuse_write, finished):
        super().__init__()
        self.ops = []
        self.security = None
        self.server = None
        self.refuse_write = refuse_write
        self.finished = finished

    async def needs_blockwise_assembly(self, request):
        return False

    async def render(self, request):
        path = "/" + "/".join(request.opt.uri_path)
        method = str(request.code).split()[0]
        self.ops.append("%s %s" % (method, path))
        if request.code == Code.DELETE and path in ("/", "/0", "/1"):
            return Message(code=Code.DELETED)
        if request.code == Code.PUT and path.startswith("/0/"):
            if self.refuse_write:
                return Message(code=Code.BAD_REQUEST, payload=b"refused by the test device")
            if request.opt.content_format != 11542:
                return Message(code=Code.UNSUPPORTED_CONTENT_FORMAT)
            self.security = {"path": path, "resources": tlv_resources(request.payload)}
            return Message(code=Code.CHANGED)
        if request.code == Code.PUT and path.startswith("/1/"):
            self.server = {"path": path, "resources": tlv_resources(request.payload)}
            return Message(code=Code.CHANGED)
        if request.code == Code.POST and path == "/bs":
            if not self.finished.done():
                self.finished.set_result(True)
            return Message(code=Code.CHANGED)
        return Message(code=Code.NOT_FOUND)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True, help="host:port of the bootstrap server (DTLS)")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--identity", default="")
    p.add_argument("--key", default="", help="bootstrap PSK, hex")
    p.add_argument("--plain", action="store_true", help="bootstrap over plain CoAP (a lab's NoSec)")
    p.add_argument("--refuse-write", action="store_true")
    p.add_argument("--no-register", action="store_true")
    p.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args()
    result = {"ops": []}
    ctx = await aiocoap.Context.create_client_context()
    finished = asyncio.get_running_loop().create_future()
    device = Device(a.refuse_write, finished)
    ctx.serversite = device
    try:
        scheme = "coap" if a.plain else "coaps"
        if not a.plain:
            ctx.client_credentials.load_from_dict({
                "coaps://%s/*" % a.bootstrap: {
                    "dtls": {"psk": {"hex": a.key}, "client-identity": {"ascii": a.identity}},
                }
            })
        req = Message(code=Code.POST, uri="%s://%s/bs?ep=%s" % (scheme, a.bootstrap, a.endpoint))
        try:
            resp = await asyncio.wait_for(ctx.request(req).response, a.timeout)
            result["bootstrap_request"] = str(resp.code)
        except Exception as e:  # the DTLS handshake refused, no answer
            result["bootstrap_request"] = "error: %s: %s" % (type(e).__name__, e)
            return result
        if not resp.code.is_successful():
            return result
        try:
            await asyncio.wait_for(asyncio.shield(finished), 2.0 if a.refuse_write else a.timeout)
            result["finished"] = True
        except asyncio.TimeoutError:
            result["finished"] = False
        result["ops"] = device.ops
        if device.security is not None:
            r = device.security["resources"]
            result["security"] = {
                "path": device.security["path"],
                "uri": r.get(0, b"").decode(),
                "bootstrap_server": r.get(1, b"\x01") != b"\x00",
                "mode": tlv_int(r.get(2, b"\xff")),
                "identity_hex": r.get(3, b"").hex(),
                "key_hex": r.get(5, b"").hex(),
                "short_server_id": tlv_int(r.get(10, b"\x00")),
            }
        if device.server is not None:
            r = device.server["resources"]
            result["server"] = {
                "path": device.server["path"],
                "short_server_id": tlv_int(r.get(0, b"\x00")),
                "lifetime": tlv_int(r.get(1, b"\x00")),
                "binding": r.get(7, b"").decode(),
            }
        if a.no_register or not result["finished"] or "security" not in result:
            return result
        s = result["security"]
        target = s["uri"]
        if s["mode"] == 0:
            ctx.client_credentials.load_from_dict({
                "%s/*" % target: {
                    "dtls": {"psk": {"hex": s["key_hex"]}, "client-identity": {"hex": s["identity_hex"]}},
                }
            })
        lifetime = result["server"]["lifetime"]
        deadline = asyncio.get_running_loop().time() + a.timeout
        while True:
            reg = Message(
                code=Code.POST,
                uri="%s/rd?ep=%s&lt=%d&lwm2m=1.1&b=U" % (target, a.endpoint, lifetime),
                payload=b"</1/0>,</3/0>",
                content_format=40,
            )
            try:
                r = await asyncio.wait_for(ctx.request(reg).response, 10.0)
                result["register"] = str(r.code)
                result["location"] = "/" + "/".join(r.opt.location_path)
                if r.code.is_successful():
                    break
            except Exception as e:
                result["register"] = "error: %s: %s" % (type(e).__name__, e)
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        return result
    finally:
        await ctx.shutdown()


if __name__ == "__main__":
    out = asyncio.run(main())
    print(json.dumps(out))
    sys.stdout.flush()
