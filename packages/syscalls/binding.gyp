{
  "targets": [
    {
      "target_name": "syscalls",
      "sources": [
        "native/syscalls.c",
        "native/common.c",
        "native/sockets.c",
        "native/io.c",
        "native/readiness.c",
        "native/process.c",
        "native/signals.c",
        "native/constants.c"
      ],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
