{
  "targets": [
    {
      "target_name": "syscalls",
      "sources": ["native/syscalls.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
