{
  "targets": [
    {
      "target_name": "ferry_native",
      "sources": [
        "src/addon.c",
        "src/args.c",
        "src/fsops.c",
        "src/readdir.c",
        "src/rename.c",
        "src/sockopt.c",
        "src/syncfs-async.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "libraries": ["-lm"]
    }
  ]
}
