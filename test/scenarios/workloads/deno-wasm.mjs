// A WASM host on Deno. argv: MODE MS (MS 0: until killed)
//   loop   the module's export called in a loop: benign
//   shell  the same, and every 2 s a host function runs `/bin/sh -c true`
//          through Deno.Command (needs --allow-run=/bin/sh)
// Work comes in 20 ms bursts with 20 ms pauses: a JIT workload that leaves
// the shared machine's other tests some CPU.
import { sum } from './sum.wasm';

const [mode = 'loop', ms = '1500'] = Deno.args;
const until = Number(ms) > 0 ? Date.now() + Number(ms) : Infinity;
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
let next = Date.now();
let rounds = 0;
while (Date.now() < until) {
  for (const burst = Date.now() + 20; Date.now() < burst; rounds++) sum(100000);
  if (mode === 'shell' && Date.now() >= next) {
    new Deno.Command('/bin/sh', { args: ['-c', 'true'] }).outputSync();
    next += 2000;
  }
  await pause();
}
if (sum(10) !== 45) Deno.exit(1);
console.log(`deno-wasm: ${rounds} rounds`);
