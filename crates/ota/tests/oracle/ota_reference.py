#!/usr/bin/env python3
"""Independent reference for ETSI TS 102 225 secured packets over SMS-PP (3GPP TS 31.115).

Written from the specifications for Warden's test suite, to cross-check the Rust `ota` crate; it
shares no code with it. Crypto from PyPI `cryptography`, CRC32 from zlib.

Reads a JSON array of requests on stdin and prints a JSON array of answers:
  {"op": "build_command", "spi", "kic", "kid", "enc_key", "mac_key", "tar", "cntr", "data"}
      -> {"packet"}
  {"op": "open_command", "packet", "kic", "kid", "enc_key", "mac_key"}
      -> {"spi", "tar", "cntr", "pcntr", "data"} or {"error"}
  {"op": "build_por", "spi", "kic", "kid", "enc_key", "mac_key", "tar", "cntr", "status", "data"}
      -> {"response"}   (SMS user data, UDH 02 71 00 first)
  {"op": "open_por", "spi", "kic", "kid", "enc_key", "mac_key", "response"}
      -> {"tar", "cntr", "pcntr", "status", "data"} or {"error"}
All byte strings are lowercase hex. `--self-test PATH` checks the pySim vectors in PATH first.
"""
import json
import sys
import zlib

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # cryptography >= 43 keeps 3DES among the "decrepit" algorithms
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover
    TripleDES = algorithms.TripleDES


class Refused(Exception):
    pass


# --- algorithms named by the low nibble of KIc / KID (TS 102 225 5.1.2, 5.1.3) ----------------------

def block_algo(byte):
    """('des'|'aes', block size) for a KIc, or a KID used for a CC."""
    low = byte & 0x0F
    if low in (0x1, 0x5, 0x9):          # DES family: b3b4 = 00 DES-CBC, 01 3DES-2K, 10 3DES-3K
        return "des", 8
    if low == 0x2:                      # AES, b3b4 = 00
        return "aes", 16
    raise Refused("unsupported algorithm nibble %x" % low)


def expected_key_len(byte):
    return {0x1: (8,), 0x5: (16,), 0x9: (24,), 0x2: (16, 24, 32)}[byte & 0x0F]


def primitive(kind, key):
    if kind == "aes":
        return algorithms.AES(key)
    # single DES is 3DES with K1 = K2 = K3, two-key 3DES is K1 K2 K1 (FIPS 46-3 keying options 3 and 2)
    if len(key) == 8:
        key = key * 3
    elif len(key) == 16:
        key = key + key[:8]
    return TripleDES(key)


def cbc(kind, key, data, decrypt=False):
    prim = primitive(kind, key)
    c = Cipher(prim, modes.CBC(bytes(prim.block_size // 8)))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def cc(kid, key, data):
    kind, bs = block_algo(kid)
    if kind == "aes":
        m = cmac.CMAC(algorithms.AES(key))
        m.update(data)
        return m.finalize()[:8]
    rem = len(data) % 8
    padded = data + bytes(8 - rem if rem or not data else 0)
    return cbc(kind, key, padded)[-8:]


def integrity(bits, kid, key, data):
    if bits == 0:
        return b""
    if bits == 1:
        if kid & 0x0F != 0x5:
            raise Refused("RC other than CRC32")
        return (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    if bits == 2:
        if len(key) not in expected_key_len(kid):
            raise Refused("bad CC key length")
        return cc(kid, key, data)
    raise Refused("DS")


def sig_len(bits):
    return {0: 0, 1: 4, 2: 8}.get(bits, None)


def pad_to(n, bs):
    return (-n) % bs


# --- command packets (TS 102 225 5.1, TS 31.115 4.2) ------------------------------------------------

def build_command(r):
    spi, kic, kid = bytes.fromhex(r["spi"]), int(r["kic"], 16), int(r["kid"], 16)
    enc, mac = bytes.fromhex(r["enc_key"]), bytes.fromhex(r["mac_key"])
    tar, cntr, data = bytes.fromhex(r["tar"]), bytes.fromhex(r["cntr"]), bytes.fromhex(r["data"])
    ciphered, chk = bool(spi[0] & 0x04), spi[0] & 0x03
    slen = sig_len(chk)
    kind, bs = block_algo(kic) if ciphered else (None, 1)
    pcntr = pad_to(5 + 1 + slen + len(data), bs) if ciphered else 0
    padded = data + bytes(pcntr)
    chl = 2 + 1 + 1 + 3 + 5 + 1 + slen
    cpl = 1 + chl + len(padded)
    head = cpl.to_bytes(2, "big") + bytes([chl]) + spi + bytes([kic, kid]) + tar
    counters = cntr + bytes([pcntr])
    sig = integrity(chk, kid, mac, head + counters + padded)
    secured = counters + sig + padded
    if ciphered:
        secured = cbc(kind, enc, secured)
    return {"packet": (head + secured).hex()}


def open_command(r):
    pkt = bytes.fromhex(r["packet"])
    kic, kid = int(r["kic"], 16), int(r["kid"], 16)
    enc, mac = bytes.fromhex(r["enc_key"]), bytes.fromhex(r["mac_key"])
    if len(pkt) < 11 or int.from_bytes(pkt[:2], "big") != len(pkt) - 2:
        return {"error": "length"}
    chl, spi = pkt[2], pkt[3:5]
    if pkt[5] != kic or pkt[6] != kid:
        return {"error": "key set"}
    tar = pkt[7:10]
    ciphered, chk = bool(spi[0] & 0x04), spi[0] & 0x03
    slen = sig_len(chk)
    if slen is None or chl != 13 + slen:
        return {"error": "chl"}
    body = pkt[10:]
    if ciphered:
        kind, bs = block_algo(kic)
        if len(body) % bs:
            return {"error": "cipher"}
        body = cbc(kind, enc, body, decrypt=True)
    if len(body) < 6 + slen:
        return {"error": "short"}
    counters, sig, padded = body[:6], body[6:6 + slen], body[6 + slen:]
    if integrity(chk, kid, mac, pkt[:10] + counters + padded) != sig:
        return {"error": "rc/cc"}
    pcntr = counters[5]
    if pcntr > len(padded) or any(padded[len(padded) - pcntr:]):
        return {"error": "padding"}
    return {"spi": spi.hex(), "tar": tar.hex(), "cntr": counters[:5].hex(), "pcntr": pcntr,
            "data": padded[:len(padded) - pcntr].hex()}


# --- response packets (TS 102 225 5.2, TS 31.115 4.3) -----------------------------------------------

UDH = bytes([0x02, 0x71, 0x00])


def build_por(r):
    spi, kic, kid = bytes.fromhex(r["spi"]), int(r["kic"], 16), int(r["kid"], 16)
    enc, mac = bytes.fromhex(r["enc_key"]), bytes.fromhex(r["mac_key"])
    tar, cntr, data = bytes.fromhex(r["tar"]), bytes.fromhex(r["cntr"]), bytes.fromhex(r["data"])
    status = int(r["status"])
    chk, ciphered = (spi[1] >> 2) & 0x03, bool(spi[1] & 0x10)
    slen = sig_len(chk)
    kind, bs = block_algo(kic) if ciphered else (None, 1)
    pcntr = pad_to(5 + 1 + 1 + slen + len(data), bs) if ciphered else 0
    padded = data + bytes(pcntr)
    rhl = 3 + 5 + 1 + 1 + slen
    rpl = 1 + rhl + len(padded)
    head = rpl.to_bytes(2, "big") + bytes([rhl]) + tar
    fixed = cntr + bytes([pcntr, status])
    sig = integrity(chk, kid, mac, UDH + head + fixed + padded)
    tail = fixed + sig + padded
    if ciphered:
        tail = cbc(kind, enc, tail)
    return {"response": (UDH + head + tail).hex()}


def open_por(r):
    ud = bytes.fromhex(r["response"])
    spi, kic, kid = bytes.fromhex(r["spi"]), int(r["kic"], 16), int(r["kid"], 16)
    enc, mac = bytes.fromhex(r["enc_key"]), bytes.fromhex(r["mac_key"])
    if ud[:3] != UDH:
        return {"error": "udh"}
    pkt = ud[3:]
    if len(pkt) < 6 or int.from_bytes(pkt[:2], "big") != len(pkt) - 2:
        return {"error": "length"}
    chk, ciphered = (spi[1] >> 2) & 0x03, bool(spi[1] & 0x10)
    slen = sig_len(chk)
    if slen is None or pkt[2] != 10 + slen:
        return {"error": "rhl"}
    body = pkt[6:]
    if ciphered:
        kind, bs = block_algo(kic)
        if len(body) % bs:
            return {"error": "cipher"}
        body = cbc(kind, enc, body, decrypt=True)
    if len(body) < 7 + slen:
        return {"error": "short"}
    fixed, sig, padded = body[:7], body[7:7 + slen], body[7 + slen:]
    if integrity(chk, kid, mac, UDH + pkt[:6] + fixed + padded) != sig:
        return {"error": "rc/cc"}
    pcntr = fixed[5]
    if pcntr > len(padded) or any(padded[len(padded) - pcntr:]):
        return {"error": "padding"}
    return {"tar": pkt[3:6].hex(), "cntr": fixed[:5].hex(), "pcntr": pcntr, "status": fixed[6],
            "data": padded[:len(padded) - pcntr].hex()}


OPS = {"build_command": build_command, "open_command": open_command, "build_por": build_por,
       "open_por": open_por}


def answer(req):
    try:
        return OPS[req["op"]](req)
    except Refused as e:
        return {"error": "refused: %s" % e}


def self_test(path):
    """The pySim vectors must come out of this implementation before its answers count."""
    d = json.load(open(path))
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    for c in d["commands"]:
        ks = d["keysets"][c["keyset"]]
        req = dict(ks, op="build_command", spi=c["spi"], tar=c["tar"], cntr=c["cntr"], data=c["apdu"])
        pkt = build_command(req)["packet"]
        want = c.get("packet") or "%04x%s" % (len(c["packet_without_cpl"]) // 2, c["packet_without_cpl"])
        check(pkt == want, c["name"] + " build")
        opened = open_command(dict(ks, packet=want))
        check(opened.get("data") == c["apdu"], c["name"] + " open")
    for c in d["responses"]:
        ks = d["keysets"][c["keyset"]]
        r = open_por(dict(ks, spi=c["spi"], response=c["response"]))
        check(r.get("status") == 0 and r.get("data") == "01" + c["sw"] + c["data"], c["name"] + " por")
    for c in d["bad_responses"]:
        ks = d["keysets"][c["keyset"]]
        check(open_por(dict(ks, spi=c["spi"], response=c["response"])).get("error") == "rc/cc", c["name"])
    print("self-test: %d passed, %d failed" % (passed, failed))
    return failed == 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--self-test":
        sys.exit(0 if self_test(sys.argv[2]) else 1)
    print(json.dumps([answer(r) for r in json.load(sys.stdin)]))
