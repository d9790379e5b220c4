#!/usr/bin/env bash
# make demo: the real main job. A temp git repo, a dozen shell tasks in a dependency graph, the daemon
# dispatching them (some in parallel), one flaky task retried, live progress, then the final graph.
set -euo pipefail
demo=$(mktemp -d "${TMPDIR:-/tmp}/wg-demo.XXXXXX")
cleanup() {
  # Stop the daemon (and any agent still running) on every exit path, then remove the repo.
  (cd "$demo" 2>/dev/null && wg service stop --kill-agents --force >/dev/null 2>&1) || true
  rm -rf "$demo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$demo"
git init -q .
export HOME="$demo/home" WG_USER=demo
mkdir -p "$HOME"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
add() { wg add "$@" --no-place 2>/dev/null >/dev/null; }

step wg init --no-agency
printf '\n\033[1m# a dozen shell tasks: fetch -> 3 parallel builds -> tests (one flaky) -> package -> release\033[0m\n'
add "Fetch sources"     --id fetch      --exec 'sleep 0.3; mkdir -p out && echo src > out/src.txt'
add "Build core"        --id build-core --after fetch --exec 'sleep 0.6; echo core > out/core.o'
add "Build CLI"         --id build-cli  --after fetch --exec 'sleep 0.5; echo cli > out/cli.o'
add "Build docs"        --id build-docs --after fetch --exec 'sleep 0.4; echo docs > out/docs.html'
add "Unit tests"        --id unit       --after build-core --exec 'sleep 0.3; test -f out/core.o'
add "Flaky integration" --id flaky      --after build-core,build-cli --max-retries 2 \
    --exec 'sleep 0.3; test -f marker || { touch marker; echo "first run fails"; false; }'
add "Lint"              --id lint       --after fetch --exec 'sleep 0.2; true'
add "Link binary"       --id link       --after build-core,build-cli --exec 'sleep 0.3; cat out/core.o out/cli.o > out/app'
add "Check docs"        --id docs-check --after build-docs --exec 'sleep 0.2; test -s out/docs.html'
add "Package"           --id package    --after link,unit,flaky,lint --exec 'sleep 0.3; tar cf out/app.tar out/app'
add "Publish docs"      --id publish    --after docs-check --exec 'sleep 0.2; cp out/docs.html out/site.html'
add "Release"           --id release    --after package,publish --exec 'sleep 0.2; echo released > RELEASED'
step wg list

step wg service start --max-agents 4

printf '\n\033[1m# progress (polled every 0.5 s)\033[0m\n'
retried=0
start=$(date +%s%N)
for _ in $(seq 1 110); do
  line=$(wg --json list 2>/dev/null | START="$start" python3 -c '
import json, os, sys, time
from collections import Counter
c = Counter(t["status"] for t in json.load(sys.stdin))
t = (time.time_ns() - int(os.environ["START"])) / 1e9
d, r, o, f = (c.get(k, 0) for k in ("done", "in-progress", "open", "failed"))
print(f"{d} {f}   t={t:4.1f}s  done {d:2}/12  running {r}  waiting {o:2}  failed {f}")
')
  read -r done failed progress <<<"$line"
  printf '  %s\n' "$progress"
  if [ "$failed" != 0 ] && [ "$retried" = 0 ]; then
    printf '  \033[33m! flaky failed on its first run; retrying it\033[0m\n'
    wg retry flaky 2>&1 | sed 's/^/  /'
    retried=1
  fi
  [ "$done" = 12 ] && break
  sleep 0.5
done

step wg list
step wg status
step wg show flaky
step wg service stop
