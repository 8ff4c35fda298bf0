# The llmc Node-API addon: native/node (glue) + native/runtime + native/cpu + native/cuda (host code only; libcuda
# is opened with dlopen at run time, so no CUDA is needed to build or load it), one shared object
# build/Release/llmc.node. The source list is globbed at configure time so no file list is kept by hand.
# No -march flags: the CPU kernels pick AVX-512 / AVX2 / scalar at run time, so one build runs on any x86-64.
# C++ exceptions and RTTI are on for every file (node-gyp turns both off by default); the glue uses
# node-addon-api's C++ exceptions, and the runtime may use both internally (nothing crosses the C API).
# -z now binds every symbol at load time: a missing runtime function fails require() with its name, not a crash later.
{
  "targets": [
    {
      "target_name": "llmc",
      "sources": [
        "<!@(node -e \"const fs=require('fs');for(const d of ['native/node','native/runtime','native/cpu','native/cuda'])for(const f of (fs.existsSync(d)?fs.readdirSync(d):[]).sort())if(f.endsWith('.cpp'))console.log(d+'/'+f)\")"
      ],
      "include_dirs": [
        "native/include",
        "native/cpu",
        "native/runtime",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags": ["-O3", "-pthread", "-Wall", "-Wno-unused-parameter"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "ldflags": ["-pthread", "-Wl,-z,now"],
      "libraries": ["-ldl"]
    },
    # The MPI plugin for sharded engines (native/mpi; docs/parallel.md): build/Release/llmc_mpi.node, built only
    # where mpicxx is on PATH.
    # The runtime opens it with dlopen when an engine has more than one rank, so llmc.node never links libmpi.
    {
      "target_name": "llmc_mpi",
      "type": "loadable_module",
      "conditions": [
        ["<!(node scripts/find-mpi.mjs found)==1", {
          "sources": ["native/mpi/llmc_mpi.cpp"],
          "cflags": ["-O2", "-Wall", "<!@(node scripts/find-mpi.mjs cflags)"],
          "cflags_cc": ["-std=c++17", "-fexceptions"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
          "libraries": ["<!@(node scripts/find-mpi.mjs ldflags)"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
