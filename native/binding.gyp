{
  "variables": {
    "ferry_cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-fvisibility=hidden"]
  },
  "targets": [
    {
      "target_name": "ferry_native",
      "sources": [
        "src/addon.c",
        "src/aligned.c",
        "src/args.c",
        "src/crc32.c",
        "src/fsops.c",
        "src/hash.c",
        "src/malloc-heap.c",
        "src/read-chunk.c",
        "src/readdir.c",
        "src/rename.c",
        "src/sockopt.c",
        "src/syncfs-async.c",
        "src/tcpinfo.c",
        "src/vendor/blake3/blake3.c",
        "src/vendor/blake3/blake3_dispatch.c",
        "src/vendor/blake3/blake3_portable.c"
      ],
      "include_dirs": ["src/vendor/blake3", "src/vendor/xxhash"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["<@(ferry_cflags)"],
      "libraries": ["-lm"],
      "conditions": [
        # x86-64: BLAKE3's SIMD kernels, each built for its instruction set in a library of its
        # own; blake3_dispatch.c picks one at run time from CPUID, so any x86-64 runs the addon.
        ["target_arch=='x64'", {
          "dependencies": ["blake3_sse2", "blake3_sse41", "blake3_avx2", "blake3_avx512"]
        }],
        # AArch64 always has NEON.
        ["target_arch=='arm64'", {
          "sources": ["src/vendor/blake3/blake3_neon.c"]
        }],
        # Anything else (32-bit x86 included): the portable code only.
        ["target_arch!='x64' and target_arch!='arm64'", {
          "defines": ["BLAKE3_NO_SSE2", "BLAKE3_NO_SSE41", "BLAKE3_NO_AVX2", "BLAKE3_NO_AVX512", "BLAKE3_USE_NEON=0"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "blake3_sse2",
          "type": "static_library",
          "sources": ["src/vendor/blake3/blake3_sse2.c"],
          "cflags_c": ["<@(ferry_cflags)", "-fPIC", "-msse2"]
        },
        {
          "target_name": "blake3_sse41",
          "type": "static_library",
          "sources": ["src/vendor/blake3/blake3_sse41.c"],
          "cflags_c": ["<@(ferry_cflags)", "-fPIC", "-msse4.1"]
        },
        {
          "target_name": "blake3_avx2",
          "type": "static_library",
          "sources": ["src/vendor/blake3/blake3_avx2.c"],
          "cflags_c": ["<@(ferry_cflags)", "-fPIC", "-mavx2"]
        },
        {
          "target_name": "blake3_avx512",
          "type": "static_library",
          "sources": ["src/vendor/blake3/blake3_avx512.c"],
          "cflags_c": ["<@(ferry_cflags)", "-fPIC", "-mavx512f", "-mavx512vl"]
        }
      ]
    }]
  ]
}
