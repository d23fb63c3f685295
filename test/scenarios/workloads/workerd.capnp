# Benign workerd scenario: one worker running a WASM module per request.
# The port is filled in by the test (WORKERD_PORT placeholder).
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
