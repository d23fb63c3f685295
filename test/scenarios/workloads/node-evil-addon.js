// Node runs WASM like a benign host, then a native "host function" makes
// executable memory. argv: ADDON_PATH stage|protect|memfdLoad [ARGS...]
'use strict';
const bytes = require('./wasm-module.js');
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
for (let i = 0; i < 2000; i++) instance.exports.sum(10000);
const addon = { exports: {} };
process.dlopen(addon, process.argv[2]);
if (!addon.exports[process.argv[3]](...process.argv.slice(4))) process.exit(1);
