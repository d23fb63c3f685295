{
  "variables": {
    "static_deps%": "<!(test -f deps/lib/libbpf.a -a -f deps/lib/libelf.a && echo 1 || echo 0)",
    "libz%": "<!(${CC:-cc} -print-file-name=libz.a)"
  },
  "targets": [
    {
      "target_name": "wasmshark",
      "sources": [
        "native/addon.cc",
        "native/bpf_session.cc",
        "native/poller.cc",
        "native/unix_dgram.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["static_deps==1", {
          "include_dirs": ["deps/include"],
          "libraries": [
            "<(module_root_dir)/deps/lib/libbpf.a",
            "<(module_root_dir)/deps/lib/libelf.a",
            "<(libz)",
            "-static-libstdc++",
            "-static-libgcc",
            "-Wl,--exclude-libs,ALL"
          ]
        }, {
          "libraries": ["-lbpf", "-lelf", "-lz"]
        }]
      ]
    }
  ]
}
