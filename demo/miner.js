// Demo sample 2, malicious: a WebAssembly "cryptominer". The module hashes;
// its host talks Stratum to a mining pool (the demo's own fake pool on
// 127.0.0.1) and stages a payload in W+X memory through a native host
// function. Nothing leaves this machine and nothing is executed from the
// staged memory.  argv: POOL_PORT STAGER_ADDON
'use strict';
const net = require('net');
const bytes = require('./miner-wasm.js');

const [port, stagerPath] = [Number(process.argv[2]), process.argv[3]];

const stager = { exports: {} };
process.dlopen(stager, stagerPath);

// The module's import env.connect_pool: the miner's WASM code has its host
// open the pool connection (libuv's connect() runs before this returns).
let sock;
function connectPool() {
  const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
  const handle = new TCP(constants.SOCKET);
  const req = new TCPConnectWrap();
  req.oncomplete = (status) => {
    if (status < 0) {
      console.error(`miner: cannot reach the pool (${status})`);
      process.exit(1);
    }
    sock.read(0);
    sock.emit('connect');
  };
  handle.connect(req, '127.0.0.1', port);
  sock = new net.Socket({ handle, readable: true, writable: true });
}

const { mine, start } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { connect_pool: connectPool } }).exports;
start();
let buffered = '';
let nonce = 0;
sock.setEncoding('utf8');
sock.on('connect', () => {
  sock.write(`${JSON.stringify({ id: 1, method: 'mining.subscribe', params: ['wasm-miner/0.1'] })}\n`);
  sock.write(`${JSON.stringify({ id: 2, method: 'mining.authorize', params: ['wallet.worker', 'x'] })}\n`);
});
sock.on('data', (chunk) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
    const msg = JSON.parse(buffered.slice(0, nl));
    buffered = buffered.slice(nl + 1);
    if (msg.method === 'mining.notify') {
      // the job: hash, submit a share, then stage the next-stage payload
      const hash = mine(msg.params[1] | 0, 2_000_000) >>> 0;
      nonce++;
      sock.write(`${JSON.stringify({ id: 3, method: 'mining.submit', params: ['wallet.worker', msg.params[0], nonce, hash.toString(16)] })}\n`);
      stager.exports.stage();
      setTimeout(() => sock.end(), 1500); // keep the staged region mapped a moment, as a real payload would be
    }
  }
});
sock.on('error', (err) => {
  console.error(`miner: ${err.message}`);
  process.exit(1);
});
sock.on('close', () => process.exit(0));
