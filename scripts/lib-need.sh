# Sourced by scripts/test-all.sh stages: `need TOOL...` fails, naming the install line, when a tool is missing.
need() {
  local t
  for t in "$@"; do
    if ! command -v "$t" >/dev/null 2>&1; then
      echo "missing '$t': apt-get install -y clang-14 libclang-rt-14-dev g++-aarch64-linux-gnu qemu-user (see README)"
      return 1
    fi
  done
}
