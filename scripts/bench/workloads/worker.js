// The bench's busy-runtime worker: every request instantiates the WASM module
// and runs it, as test/scenarios/workloads/worker.js does, with a light
// enough body that workerd serves thousands of requests a second and its
// syscalls (the monitors' concern) are a real part of each one.
import mod from './sum.wasm';

export default {
  async fetch() {
    const instance = await WebAssembly.instantiate(mod);
    return new Response(`sum ${instance.exports.sum(20000)}\n`);
  },
};
