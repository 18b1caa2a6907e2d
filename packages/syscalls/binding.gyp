{
  "targets": [
    {
      "target_name": "syscalls",
      "sources": ["native/syscalls.c", "native/uring.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
