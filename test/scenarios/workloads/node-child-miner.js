// The runtime starts a helper through a shell; the helper subscribes to a
// Stratum mining pool. argv: PORT
'use strict';
const { execFileSync } = require('child_process');
const bytes = require('./wasm-module.js');
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
for (let i = 0; i < 2000; i++) instance.exports.sum(10000);
const port = Number(process.argv[2]);
const miner = `
  const s = require('net').connect(${port}, '127.0.0.1', () => {
    s.end(JSON.stringify({ id: 1, method: 'mining.subscribe', params: ['wasm-miner/1.0'] }) + '\\n');
  });
  s.on('error', () => process.exit(0));
  s.on('close', () => process.exit(0));
`;
execFileSync('/bin/sh', ['-c', `exec "${process.execPath}" -e "$0"`, miner], { stdio: 'ignore' });
