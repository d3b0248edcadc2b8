#!/usr/bin/env bash
# readme-check.sh runs every shell block of README.md as it is written, in a
# fresh clone of this repository's HEAD, and fails if any command of any
# block fails.
#
# Each ```sh block runs on its own with `bash -e`, in a process group of its
# own that is ended, daemons and all, when the block is done, and with a
# state directory of its own. Three kinds of line are left out, and listed:
# the nats CLI's (not every user has it), and `go test -race [flags] ./...` and the
# make targets test, bench, fuzz and readme, which .ci/run runs itself or
# which take many minutes.
#
#	scripts/readme-check.sh            # every block
#	scripts/readme-check.sh 3          # only the third
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
only=${1:-}
block_timeout=${README_BLOCK_TIMEOUT:-600}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git clone -q "$repo" "$work/drover"
cd "$work/drover"
mkdir "$work/blocks"
awk -v dir="$work/blocks" '
	/^```sh$/ { n++; file = sprintf("%s/%02d.sh", dir, n); inblock = 1; next }
	/^```/    { inblock = 0; next }
	inblock   { print > file }
' README.md

# stop ends every process of the group led by $1: SIGTERM, then SIGKILL
# for what is still there after 10 s.
stop() {
	local group=$1
	kill -TERM -- "-$group" 2>/dev/null || return 0
	for _ in $(seq 100); do
		pgrep -g "$group" >/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$group" 2>/dev/null || true
}

failed=0
for block in "$work"/blocks/*.sh; do
	n=$(basename "$block" .sh)
	[ -n "$only" ] && [ "$((10#$n))" != "$only" ] && continue
	script="$work/run-$n.sh"
	: > "$script"
	while IFS= read -r line; do
		case "$line" in
		"nats "* | "go test -race "*"./..."* | "make test"* | "make bench"* | "make fuzz"* | "make readme"*)
			echo "block $n: left out: $line"
			;;
		*) printf '%s\n' "$line" >> "$script" ;;
		esac
	done < "$block"
	echo "block $n:"
	sed 's/^/    /' "$script"
	start=$(date +%s)
	env -u NATS_URL XDG_STATE_HOME="$work/state-$n" setsid bash -e "$script" > "$work/out-$n.log" 2>&1 &
	group=$!
	( sleep "$block_timeout" && kill -TERM -- "-$group" 2>/dev/null ) &
	watchdog=$!
	status=0
	wait "$group" || status=$?
	kill "$watchdog" 2>/dev/null || true
	stop "$group"
	took=$(( $(date +%s) - start ))
	if [ "$status" -eq 0 ]; then
		echo "block $n: ok in ${took}s"
	else
		echo "block $n: FAILED with status $status after ${took}s; its output:"
		sed 's/^/    /' "$work/out-$n.log"
		failed=1
	fi
done
exit "$failed"
