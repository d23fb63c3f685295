// Demo sample 1, benign: a WebAssembly workload doing ordinary JIT-compiled
// work in Node for about a second and a half.
'use strict';
const bytes = require('./miner-wasm.js');
const { mine } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
const until = Date.now() + 1500;
let x = 1;
while (Date.now() < until) x = mine(x, 100000);
console.log(`benign: computed ${(x >>> 0).toString(16)}`);
