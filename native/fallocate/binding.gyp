{
  "targets": [
    {
      "target_name": "fallocate",
      "sources": ["fallocate.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
