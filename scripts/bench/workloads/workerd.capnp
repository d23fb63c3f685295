# The bench's busy-runtime server: one worker running a WASM module per
# request, on 127.0.0.1 (scripts/bench.js fills in WORKERD_PORT).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:WORKERD_PORT", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker", esModule = embed "worker.js"),
    (name = "sum.wasm", wasm = embed "sum.wasm"),
  ],
  compatibilityDate = "2024-09-01",
);
