{
  # node-gyp build of the addon; CMakeLists.txt (cmake-js) builds the same sources the same way.
  # Baseline ISA only (no -march): the AVX2/AVX-512/NEON kernels pick their ISA in the source
  # (target attributes) and dispatch.cc chooses at load.
  "targets": [
    {
      "target_name": "rope_simd",
      # native/sources.json's "addon" list, kernels from native/kernels/isas.def (gyp runs the
      # command in this directory).
      "sources": ["<!@(node native/sources.cjs addon)"],
      # node-addon-api's headers come from the npm package (a dependency, so a user's source build
      # has them); asking node keeps the path right wherever npm put the package.
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a call refused while its worker is terminated
      # cannot throw into JavaScript any more; without it node-addon-api rethrows in C++, out of
      # the Node-API callback, and the process aborts.
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-fvisibility=hidden"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] }
      },
      "conditions": [
        ["OS=='win'", { "defines": ["_HAS_EXCEPTIONS=1"] }]
      ]
    }
  ]
}
