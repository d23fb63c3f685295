"""A plugin host embedding wasmtime (Cranelift) through its Python package.

    python wasmtime-host.py MODE EVERY_MS [ROUNDS]

Every EVERY_MS milliseconds it compiles a new plugin module (the source
differs each round, so every round is a fresh compilation), instantiates it
with a host function written in Python (a ctypes callback: libffi makes a
closure trampoline for it) and runs it. ROUNDS rounds, or forever if 0.

MODE:
  loop   only that: ordinary plugin-host work
  shell  the plugin's host function `run` starts /bin/sh -c true each round
  wx     after each round, Python itself maps W+X memory through ctypes
         (libc mmap(PROT_READ|PROT_WRITE|PROT_EXEC) called through libffi):
         shellcode staging from inside the host, once per round
"""
import ctypes
import subprocess
import sys
import time

import wasmtime

mode = sys.argv[1]
every = int(sys.argv[2]) / 1000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 0

engine = wasmtime.Engine()
calls = []


def plugin(n):
    # a different body each round: wasmtime compiles it anew (no cache is configured)
    return f"""
    (module
      (import "host" "log" (func $log (param i32)))
      (import "host" "run" (func $run))
      (func (export "main") (param $n i32) (result i32)
        (local $i i32) (local $acc i32)
        (loop $l
          (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const {n + 1}))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_s (local.get $i) (local.get $n))))
        (call $log (local.get $acc))
        (call $run)
        (local.get $acc)))
    """


def run_shell():
    if mode == "shell":
        subprocess.run(["/bin/sh", "-c", "true"], check=True)


def stage_wx():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    # PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS
    addr = libc.mmap(None, 65536, 7, 0x22, -1, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        sys.exit(f"mmap failed: errno {ctypes.get_errno()}")
    ctypes.memmove(addr, b"\x90" * 16 + b"\xc3", 17)  # nops and a ret: staged, not run


i = 0
while rounds == 0 or i < rounds:
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, plugin(i))
    log = wasmtime.Func(store, wasmtime.FuncType([wasmtime.ValType.i32()], []), lambda v: calls.append(v))
    run = wasmtime.Func(store, wasmtime.FuncType([], []), run_shell)
    instance = wasmtime.Instance(store, module, [log, run])
    result = instance.exports(store)["main"](store, 1000)
    if result != calls[-1]:
        sys.exit("wrong result")
    if mode == "wx":
        stage_wx()
    i += 1
    sys.stdout.flush()
    time.sleep(every)
