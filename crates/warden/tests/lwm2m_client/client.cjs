// An LwM2M client made with Telefonica's lwm2m-node-lib, driven by crates/warden/tests/devices.rs.
// Usage: node client.cjs HOST PORT ENDPOINT LIFETIME SERIAL
// Objects: /1/0 (server), /3/0 (device: manufacturer, model, serial, firmware, battery),
// /4/0 (connectivity: signal strength). Reads commands on stdin, one a line:
//   update | set OBJ_URI RESOURCE VALUE | deregister | exit
// and prints one JSON object a line: registered, updated, write, execute, set, deregistered, error.
'use strict';

const lwm2m = require('lwm2m-node-lib');
const readline = require('readline');

const [host, port, endpoint, lifetime, serial] = process.argv.slice(2);
const client = lwm2m.client;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

client.init({
    client: {
        lifetime: lifetime,
        version: '1.0',
        logLevel: 'FATAL',
        observe: { period: 3000 },
        ipProtocol: 'udp4',
        serverProtocol: 'udp4',
        formats: [{ name: 'lightweightm2m/text', value: 1541 }],
        writeFormat: 'lightweightm2m/text'
    }
});

function set(uri, id, value) {
    return new Promise((resolve, reject) =>
        client.registry.setResource(uri, id, value, (e) => (e ? reject(e) : resolve())));
}

function create(uri) {
    return new Promise((resolve, reject) => client.registry.create(uri, (e) => (e ? reject(e) : resolve())));
}

async function main() {
    await create('/1/0');
    await set('/1/0', '1', lifetime);
    await create('/3/0');
    await set('/3/0', '0', 'Warden Test Devices');
    await set('/3/0', '1', 'node-lwm2m-1');
    await set('/3/0', '2', serial);
    await set('/3/0', '3', '1.0.7');
    await set('/3/0', '9', '87');
    await create('/4/0');
    await set('/4/0', '2', '-71');

    let device;
    client.register(host, Number(port), '', endpoint, (error, info) => {
        if (error) {
            say({ event: 'error', during: 'register', message: String(error.message || error) });
            process.exit(2);
        }
        device = info;
        client.setHandler(info.serverInfo, 'write', (objectType, objectId, resourceId, value, cb) => {
            say({ event: 'write', path: `/${objectType}/${objectId}/${resourceId}`, value: String(value) });
            cb(null);
        });
        client.setHandler(info.serverInfo, 'execute', (objectType, objectId, resourceId, args, cb) => {
            say({ event: 'execute', path: `/${objectType}/${objectId}/${resourceId}` });
            cb(null);
        });
        say({ event: 'registered', location: info.location, port: info.localPort });
    });

    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', async (line) => {
        const [cmd, ...args] = line.trim().split(' ');
        try {
            if (cmd === 'update') {
                client.update(device, (e) => say(e ? { event: 'error', during: 'update', message: String(e) } : { event: 'updated' }));
            } else if (cmd === 'set') {
                await set(args[0], args[1], args[2]);
                say({ event: 'set', path: `${args[0]}/${args[1]}`, value: args[2] });
            } else if (cmd === 'deregister') {
                client.unregister(device, (e) => say(e ? { event: 'error', during: 'deregister', message: String(e) } : { event: 'deregistered' }));
            } else if (cmd === 'exit') {
                process.exit(0);
            }
        } catch (e) {
            say({ event: 'error', during: cmd, message: String(e) });
        }
    });
}

main().catch((e) => {
    say({ event: 'error', during: 'setup', message: String(e) });
    process.exit(2);
});
