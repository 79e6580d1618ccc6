{
  "targets": [
    {
      "target_name": "readfiles",
      "sources": ["readfiles.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
