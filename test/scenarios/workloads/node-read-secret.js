// Node runs WASM like a benign host, then its JavaScript reads a credential
// file and closes it at once: nothing holds it open for a /proc pass to see.
// argv: FILE
'use strict';
const fs = require('fs');
const bytes = require('./wasm-module.js');
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
for (let i = 0; i < 2000; i++) instance.exports.sum(10000);
if (fs.readFileSync(process.argv[2]).length === 0) process.exit(1);
