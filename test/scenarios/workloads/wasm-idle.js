// A long-running, mostly idle WASM host for Node and Bun: instantiate the
// module, call it now and then, until stdin closes or it is killed.
'use strict';
const bytes = require('./wasm-module.js');
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
if (instance.exports.sum(10) !== 45) process.exit(1);
const timer = setInterval(() => instance.exports.sum(1000), 500);
process.stdin.on('end', () => {
  clearInterval(timer);
  process.exit(0);
});
process.stdin.resume();
