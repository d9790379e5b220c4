#!/usr/bin/env bash
# make demo: a real temp git repo, a small dependency graph walked with claim/done, then the graph shown.
set -euo pipefail
demo=$(mktemp -d "${TMPDIR:-/tmp}/wg-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
cd "$demo"
git init -q .
export HOME="$demo/home" WG_USER=demo
mkdir -p "$HOME"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step wg init --no-agency
step wg add "Design the API" --no-place -p high
step wg add "Write the storage layer" --no-place --after design-the-api
step wg add "Write the CLI" --no-place --after design-the-api
step wg add "Release 1.0" --no-place --after write-the-storage,write-the-cli -t release
step wg ready
step wg claim design-the-api --actor alice
step wg log design-the-api "Validated: API reviewed"
step wg done design-the-api
step wg ready
for t in write-the-storage write-the-cli; do
  step wg claim "$t" --actor bob
  step wg log "$t" "Validated: tests pass"
  step wg done "$t"
done
step wg list
step wg show release-1-0
