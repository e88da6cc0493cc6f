{
  "targets": [
    {
      "target_name": "ferry_native",
      "sources": [
        "src/addon.c",
        "src/aligned.c",
        "src/args.c",
        "src/crc32.c",
        "src/crc32-async.c",
        "src/fsops.c",
        "src/hash.c",
        "src/malloc-heap.c",
        "src/read-chunk.c",
        "src/readdir.c",
        "src/rename.c",
        "src/sockopt.c",
        "src/syncfs-async.c",
        "src/tcpinfo.c"
      ],
      "include_dirs": ["src/vendor/xxhash"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-fvisibility=hidden"],
      "libraries": ["-lm"]
    }
  ]
}
