{
  # The testing addon: the production addon's exports plus the hooks only tests and the bench use
  # (native/binding/testing.cc), never in the published binary. Built from source into
  # test/native/addon/build by `npm run build:testing` (scripts/build/build-testing-addon.mjs; vitest's
  # global setup and the bench call it). Flags as the root binding.gyp's (test/native/registry.test.ts
  # holds them equal); sources native/sources.json's "testing" list.
  "targets": [
    {
      "target_name": "rope_simd_testing",
      "sources": [
        "<!@(node ../../../native/sources.cjs testing --from test/native/addon)"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../../../native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": [
        "-fno-exceptions"
      ],
      "cflags_cc!": [
        "-fno-exceptions",
        "-std=gnu++17"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-fexceptions",
        "-O3",
        "-fvisibility=hidden"
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CPLUSPLUSFLAGS": [
          "-O3"
        ]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "AdditionalOptions": [
            "/std:c++17"
          ]
        }
      },
      "conditions": [
        [
          "OS=='win'",
          {
            "defines": [
              "_HAS_EXCEPTIONS=1"
            ]
          }
        ]
      ]
    }
  ]
}
