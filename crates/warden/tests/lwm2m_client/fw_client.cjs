// An LwM2M device with a Firmware Update object (5), made with Telefonica's lwm2m-node-lib and the
// npm `coap` package it depends on; driven by crates/warden/tests/campaigns.rs.
// Usage: node fw_client.cjs HOST PORT ENDPOINT MODEL VERSION MODE NEW_VERSION BLOCK_SIZE
// MODE: full  - downloads the package with node-coap's block-wise GET (Block2), reports Downloaded,
//               and on Update comes back (registration update) with 3/0/3 = NEW_VERSION, Result 1;
//       half  - fetches only the first half of the blocks (Block2 requests made with coap-packet),
//               then claims Downloaded anyway;
//       fail8 - downloads fully, but the update fails: Update Result 8.
// Prints one JSON object a line: registered, write, downloaded (bytes, sha256), execute, updated, error.
'use strict';

const lwm2m = require('lwm2m-node-lib');
const coap = require('coap');
const packet = require('coap-packet');
const dgram = require('dgram');
const crypto = require('crypto');

const [host, port, endpoint, model, version, mode, newVersion, blockSize] = process.argv.slice(2);
const client = lwm2m.client;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const szx = Math.log2(Number(blockSize)) - 4;

client.init({
    client: {
        lifetime: '300',
        version: '1.0',
        logLevel: 'FATAL',
        observe: { period: 3000 },
        ipProtocol: 'udp4',
        serverProtocol: 'udp4',
        formats: [{ name: 'lightweightm2m/text', value: 1541 }],
        writeFormat: 'lightweightm2m/text'
    }
});

const set = (uri, id, value) =>
    new Promise((resolve, reject) => client.registry.setResource(uri, id, value, (e) => (e ? reject(e) : resolve())));
const create = (uri) => new Promise((resolve, reject) => client.registry.create(uri, (e) => (e ? reject(e) : resolve())));

// The Block2 option value for block `num` (RFC 7959 §2.2).
function block2(num) {
    const v = (num << 4) | szx;
    if (v < 256) return Buffer.from([v]);
    if (v < 65536) return Buffer.from([v >> 8, v & 255]);
    return Buffer.from([v >> 16, (v >> 8) & 255, v & 255]);
}

// The whole package with node-coap's own block-wise transfer (it asks for the next block itself).
function fetchAll(uri) {
    return new Promise((resolve, reject) => {
        const u = new URL(uri);
        const req = coap.request({ hostname: u.hostname, port: Number(u.port), pathname: u.pathname, method: 'GET' });
        req.setOption('Block2', block2(0));
        req.on('response', (res) => {
            if (res.code !== '2.05') return reject(new Error('answer ' + res.code));
            resolve(res.payload);
        });
        req.on('error', reject);
        req.end();
    });
}

// One block, with a hand-made request (coap-packet encodes it).
function fetchBlock(sock, u, num) {
    return new Promise((resolve, reject) => {
        const messageId = Math.floor(Math.random() * 65535);
        const options = u.pathname.split('/').filter((s) => s).map((s) => ({ name: 'Uri-Path', value: Buffer.from(s) }));
        options.push({ name: 'Block2', value: block2(num) });
        const out = packet.generate({ confirmable: true, messageId, token: crypto.randomBytes(4), code: 'GET', options });
        const timer = setTimeout(() => reject(new Error('no answer to block ' + num)), 5000);
        sock.once('message', (msg) => {
            clearTimeout(timer);
            const p = packet.parse(msg);
            const size2 = p.options.find((o) => o.name === 'Size2');
            resolve({ code: p.code, payload: p.payload, size: size2 ? size2.value.readUIntBE(0, size2.value.length) : null });
        });
        sock.send(out, Number(u.port), u.hostname);
    });
}

async function fetchHalf(uri) {
    const u = new URL(uri);
    const sock = dgram.createSocket('udp4');
    try {
        const first = await fetchBlock(sock, u, 0);
        const blocks = Math.ceil(first.size / Number(blockSize));
        const parts = [first.payload];
        for (let n = 1; n < Math.floor(blocks / 2); n++) {
            parts.push((await fetchBlock(sock, u, n)).payload);
        }
        return Buffer.concat(parts);
    } finally {
        sock.close();
    }
}

async function download(uri) {
    await set('/5/0', '3', '1');
    const body = mode === 'half' ? await fetchHalf(uri) : await fetchAll(uri);
    say({ event: 'downloaded', bytes: body.length, sha256: crypto.createHash('sha256').update(body).digest('hex') });
    await set('/5/0', '3', '2');
}

async function main() {
    await create('/1/0');
    await set('/1/0', '1', '300');
    await create('/3/0');
    await set('/3/0', '0', 'Warden Test Devices');
    await set('/3/0', '1', model);
    await set('/3/0', '2', 'fw-serial');
    await set('/3/0', '3', version);
    await create('/5/0');
    await set('/5/0', '1', '');
    await set('/5/0', '3', '0');
    await set('/5/0', '5', '0');

    client.register(host, Number(port), '', endpoint, (error, device) => {
        if (error) {
            say({ event: 'error', during: 'register', message: String(error.message || error) });
            process.exit(2);
        }
        client.setHandler(device.serverInfo, 'write', (objectType, objectId, resourceId, value, cb) => {
            const path = `/${objectType}/${objectId}/${resourceId}`;
            say({ event: 'write', path, value: String(value) });
            cb(null);
            if (path === '/5/0/1' && String(value) !== '') {
                download(String(value)).catch((e) => say({ event: 'error', during: 'download', message: String(e) }));
            }
        });
        client.setHandler(device.serverInfo, 'execute', (objectType, objectId, resourceId, args, cb) => {
            const path = `/${objectType}/${objectId}/${resourceId}`;
            say({ event: 'execute', path });
            cb(null);
            if (path !== '/5/0/2') return;
            setTimeout(async () => {
                await set('/5/0', '3', '3');
                if (mode === 'fail8') {
                    await set('/5/0', '5', '8');
                    await set('/5/0', '3', '0');
                    return;
                }
                // "Reboot" into the new firmware and come back with a registration update.
                await set('/3/0', '3', newVersion);
                await set('/5/0', '5', '1');
                await set('/5/0', '3', '0');
                client.update(device, (e) =>
                    say(e ? { event: 'error', during: 'update', message: String(e) } : { event: 'updated' }));
            }, 300);
        });
        say({ event: 'registered', location: device.location });
    });
}

main().catch((e) => {
    say({ event: 'error', during: 'setup', message: String(e) });
    process.exit(2);
});
