// The runtime starts a helper that executes a payload from memory (memfd + fexecve).
// argv: TRIGGER_PATH
'use strict';
const { execFileSync } = require('child_process');
const bytes = require('./wasm-module.js');
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
for (let i = 0; i < 2000; i++) instance.exports.sum(10000);
execFileSync(process.argv[2], ['memfd-exec'], { stdio: 'ignore' });
