// The demo's WebAssembly "miner", assembled here (no toolchain needed):
//   (import "env" "connect_pool" (func $connect_pool))            ;; func 0
//   (func $mine (export "mine") (param $seed i32) (param $iters i32) (result i32) ...)  ;; func 1
//   (func $start (export "start") call $connect_pool)             ;; func 2
// mine runs a xorshift32 hash chain $iters times from $seed; start has the
// host open the pool connection. A name section names the functions, so a
// runtime's JIT map (and wasmshark's alerts) can say which one did what.
'use strict';
const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s) => [s.length, ...Buffer.from(s, 'latin1')];
const vec = (items) => [...leb(items.length), ...items.flat()];
const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
const mine = [
  0x01, 0x02, 0x7f, // locals: $x, $i (i32)
  0x20, 0x00, 0x21, 0x02, // x = seed
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0x03, 0x20, 0x01, 0x4f, 0x0d, 0x01, // if i >= iters: break
  0x20, 0x02, 0x20, 0x02, 0x41, 0x0d, 0x74, 0x73, 0x21, 0x02, // x ^= x << 13
  0x20, 0x02, 0x20, 0x02, 0x41, 0x11, 0x76, 0x73, 0x21, 0x02, // x ^= x >> 17
  0x20, 0x02, 0x20, 0x02, 0x41, 0x05, 0x74, 0x73, 0x21, 0x02, // x ^= x << 5
  0x20, 0x03, 0x41, 0x01, 0x6a, 0x21, 0x03, // i += 1
  0x0c, 0x00, 0x0b, 0x0b, // continue; end; end
  0x20, 0x02, 0x0b, // return x
];
const start = [0x00, 0x10, 0x00, 0x0b]; // no locals; call 0; end
const names = [...str('name'), 0x01, ...leb(vec([[0, ...str('connect_pool')], [1, ...str('mine')], [2, ...str('start')]]).length), ...vec([[0, ...str('connect_pool')], [1, ...str('mine')], [2, ...str('start')]])];
module.exports = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, vec([[0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f], [0x60, 0x00, 0x00]])), // type 0: (i32 i32) -> i32, type 1: () -> ()
  ...section(2, vec([[...str('env'), ...str('connect_pool'), 0x00, 0x01]])),
  ...section(3, vec([[0x00], [0x01]])),
  ...section(7, vec([[...str('mine'), 0x00, 0x01], [...str('start'), 0x00, 0x02]])),
  ...section(10, vec([[...leb(mine.length), ...mine], [...leb(start.length), ...start]])),
  ...section(0, names),
]);
