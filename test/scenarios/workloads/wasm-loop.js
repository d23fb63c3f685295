// A benign WASM workload for Node and Bun: compile the module, then call it
// for MS milliseconds (argv[2], default 1500), then exit 0.
'use strict';
const bytes = require('./wasm-module.js');
const ms = Number(process.argv[2] || 1500);
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
const until = Date.now() + ms;
let total = 0;
let rounds = 0;
while (Date.now() < until) {
  total += instance.exports.sum(100000);
  rounds++;
}
if (instance.exports.sum(10) !== 45) process.exit(1);
console.log(`wasm-loop: ${rounds} rounds`);
