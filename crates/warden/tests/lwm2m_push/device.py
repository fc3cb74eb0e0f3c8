#!/usr/bin/env python3
"""An LwM2M device with a Firmware Update object (5) for crates/warden/tests/campaigns.rs, on PyPI
aiocoap: CoAP, and the reassembly of a Block1 write (RFC 7959: 2.31 Continue, 4.08 on a gap), are
aiocoap's; this script only plays the device's part of LwM2M Core 1.1 (registration, object 3's
model and firmware version, object 5's resources).

- Registers at coap://SERVER/rd?ep=EP&lt=300&lwm2m=1.1&b=U with </3/0>,</5/0>, from the socket it
  serves its resources on (so the server's requests reach it).
- Object 5: Package 5/0/0 takes a write of the image (block-wise with aiocoap's Block1 assembly),
  saved to --save, then State 5/0/3 = 2 (Downloaded). Package URI 5/0/1: downloads the image with
  aiocoap's block-wise GET (Block2) when the device pulls, else 4.05. Update 5/0/2 (execute): after
  a moment the firmware version 3/0/3 becomes --new-version, Update Result 5/0/5 = 1, State 0, and
  the device updates its registration. 5/0/8 (Firmware Update Protocol Support: CoAP, CoAPS) in
  SenML JSON and 5/0/9 (Firmware Update Delivery Method, --delivery: 0 pull, 1 push, 2 both).
- --cut-after N: after N blocks of the Package write the device stops answering (it stays
  registered, its requests hang), as a device that lost its radio link would.

Prints one JSON object a line: registered, block (number, size), package (bytes, sha256), uri,
pulled (bytes, sha256), execute, updated, cut, error.
"""

import argparse
import asyncio
import hashlib
import json
import sys

import aiocoap
from aiocoap import Code, Message
from aiocoap import resource

TEXT = 0
LINK_FORMAT = 40
SENML_JSON = 110


def say(**o):
    sys.stdout.write(json.dumps(o) + "\n")
    sys.stdout.flush()


class Device:
    def __init__(self, args):
        self.args = args
        self.values = {
            (3, 1): args.model,
            (3, 3): args.version,
            (5, 3): "0",
            (5, 5): "0",
            (5, 9): str(args.delivery),
        }
        self.blocks = 0
        self.ctx = None
        self.location = None


class Text(resource.Resource):
    """A readable resource: its text value."""

    def __init__(self, dev, key):
        super().__init__()
        self.dev, self.key = dev, key

    async def render_get(self, request):
        return Message(code=Code.CONTENT, payload=self.dev.values[self.key].encode(), content_format=TEXT)


class Protocols(resource.Resource):
    """5/0/8, multiple instances: CoAP (0) and CoAPS (1), in SenML JSON."""

    async def render_get(self, request):
        records = [{"bn": "/5/0/8/", "n": "0", "v": 0}, {"n": "1", "v": 1}]
        return Message(code=Code.CONTENT, payload=json.dumps(records).encode(), content_format=SENML_JSON)


class Package(resource.Resource):
    """5/0/0: the image, written by the server (push)."""

    def __init__(self, dev):
        super().__init__()
        self.dev = dev

    async def needs_blockwise_assembly(self, request):
        b = request.opt.block1
        if b is not None:
            self.dev.blocks += 1
            say(event="block", num=b.block_number, size=b.size, more=bool(b.more))
            if self.dev.args.cut_after is not None and self.dev.blocks > self.dev.args.cut_after:
                say(event="cut", blocks=self.dev.blocks - 1)
                await asyncio.Event().wait()  # never answers again
        return True

    async def render_put(self, request):
        body = request.payload
        if self.dev.args.delivery == 0:
            say(event="refused", path="/5/0/0")
            return Message(code=Code.METHOD_NOT_ALLOWED)
        with open(self.dev.args.save, "wb") as f:
            f.write(body)
        say(event="package", bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
        self.dev.values[(5, 3)] = "2"
        return Message(code=Code.CHANGED)


class PackageUri(resource.Resource):
    """5/0/1: where to pull the image from."""

    def __init__(self, dev):
        super().__init__()
        self.dev = dev

    async def render_put(self, request):
        uri = request.payload.decode()
        say(event="uri", uri=uri)
        if self.dev.args.delivery == 1:
            say(event="refused", path="/5/0/1")
            return Message(code=Code.METHOD_NOT_ALLOWED)
        asyncio.get_running_loop().create_task(self.pull(uri))
        return Message(code=Code.CHANGED)

    async def pull(self, uri):
        self.dev.values[(5, 3)] = "1"
        try:
            r = await self.dev.ctx.request(Message(code=Code.GET, uri=uri)).response
            body = r.payload
        except Exception as e:  # noqa: BLE001 - reported to the test
            say(event="error", what="pull", error=repr(e))
            return
        with open(self.dev.args.save, "wb") as f:
            f.write(body)
        say(event="pulled", code=str(r.code), bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
        self.dev.values[(5, 3)] = "2"


class Update(resource.Resource):
    """5/0/2: install the image."""

    def __init__(self, dev):
        super().__init__()
        self.dev = dev

    async def render_post(self, request):
        say(event="execute")
        asyncio.get_running_loop().create_task(self.install())
        return Message(code=Code.CHANGED)

    async def install(self):
        await asyncio.sleep(1)
        d = self.dev
        d.values[(3, 3)] = d.args.new_version
        d.values[(5, 5)] = "1"
        d.values[(5, 3)] = "0"
        r = await d.ctx.request(Message(code=Code.POST, uri="coap://%s%s" % (d.args.server, d.location))).response
        say(event="updated", code=str(r.code))


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True, help="HOST:PORT of the LwM2M server (plain CoAP)")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--new-version", required=True)
    p.add_argument("--delivery", type=int, default=2, choices=[0, 1, 2])
    p.add_argument("--save", required=True, help="file the received image is written to")
    p.add_argument("--cut-after", type=int, help="stop answering after this many Package blocks")
    args = p.parse_args()

    dev = Device(args)
    site = resource.Site()
    for key in [(3, 1), (3, 3), (5, 3), (5, 5), (5, 9)]:
        site.add_resource([str(key[0]), "0", str(key[1])], Text(dev, key))
    site.add_resource(["5", "0", "0"], Package(dev))
    site.add_resource(["5", "0", "1"], PackageUri(dev))
    site.add_resource(["5", "0", "2"], Update(dev))
    site.add_resource(["5", "0", "8"], Protocols())
    dev.ctx = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 0))

    uri = "coap://%s/rd?ep=%s&lt=300&lwm2m=1.1&b=U" % (args.server, args.endpoint)
    reg = Message(code=Code.POST, uri=uri, payload=b"</3/0>,</5/0>", content_format=LINK_FORMAT)
    r = await dev.ctx.request(reg).response
    dev.location = "/" + "/".join(r.opt.location_path)
    say(event="registered", code=str(r.code), location=dev.location)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
