# Sourced by scripts/test/test-all.sh stages: `need TOOL...` fails, naming the install line, when a tool is missing.
need() {
  local t
  for t in "$@"; do
    if ! command -v "$t" >/dev/null 2>&1; then
      echo "missing '$t': apt-get install -y $(cat "$(dirname "${BASH_SOURCE[0]}")/../../.ci/apt-packages") (see CONTRIBUTING.md)"
      return 1
    fi
  done
}
