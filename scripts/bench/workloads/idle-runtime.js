/*
 * An idle WebAssembly runtime, for the bench's watch section: instantiates a
 * tiny module, calls it once, prints `ready` and then sleeps on a timer,
 * waking once a second as a long-lived idle service would. Plain script, no
 * imports: node, bun and `deno run` all run it as it is.
 *
 *   node scripts/bench/workloads/idle-runtime.js
 */
// (module (func (export "answer") (result i32) i32.const 42))
const bytes = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x0a, 0x01, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x00, 0x00,
  0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b,
]);
const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
if (instance.exports.answer() !== 42) throw new Error('the module did not run');
setInterval(() => {}, 1000);
console.log('ready');
