// A benign workerd worker: every request instantiates the WASM module and runs it.
import mod from './sum.wasm';

export default {
  async fetch() {
    const instance = await WebAssembly.instantiate(mod);
    let total = 0;
    for (let i = 0; i < 200; i++) total += instance.exports.sum(100000);
    return new Response(`sum ${instance.exports.sum(10)} ${total}\n`);
  },
};
