#!/usr/bin/env bash
# bench-sort.sh sorts generated records with Drover and with GNU sort in
# the same run, and prints both times, their ratio and the peak RSS of
# each process; it fails unless both outputs are byte-identical.
#
#	scripts/bench-sort.sh [SIZE] [R]      # default 2GiB 8
#
# Drover runs as on a cluster: a broker, a master and two workers, each a
# process of its own, the workers reading the file in place (--shared).
# Its time runs from `drover submit` to the last output file written by
# `drover get`. GNU sort runs as `LC_ALL=C sort -S 512M --parallel=2`.
set -euo pipefail

size=${1:-2GiB}
r=${2:-8}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# peak is a process's peak resident set size in MiB, from /proc.
peak() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

cd "$repo"
go build -o "$work/bin/" ./cmd/broker ./cmd/master ./cmd/worker ./cmd/drover
bin=$work/bin
mkdir -p "$work/data" "$work/tmp" "$work/w1" "$work/w2"
"$bin/drover" gen --size "$size" --seed 1 -o "$work/data/records.txt"
bytes=$(stat -c %s "$work/data/records.txt")

start=$(date +%s.%N)
LC_ALL=C /usr/bin/time -f '%M' -o "$work/gnu.rss" sort -S 512M --parallel=2 -T "$work/tmp" -o "$work/gnu.txt" "$work/data/records.txt"
gnu=$(echo "$(date +%s.%N) - $start" | bc)
gnu_rss=$(awk '{ printf "%.0f", $1 / 1024 }' "$work/gnu.rss")

port=$((20000 + RANDOM % 20000))
export NATS_URL=nats://127.0.0.1:$port
"$bin/broker" --listen "127.0.0.1:$port" --store "$work/broker" 2>"$work/broker.log" &
pids+=($!)
"$bin/drover" ready --timeout 30s
"$bin/master" 2>"$work/master.log" &
pids+=($!)
"$bin/worker" --shared-root "$work/data" --temp-dir "$work/w1" 2>"$work/w1.log" &
w1=$!
pids+=("$w1")
"$bin/worker" --shared-root "$work/data" --temp-dir "$work/w2" 2>"$work/w2.log" &
w2=$!
pids+=("$w2")
"$bin/drover" ready --service Master --timeout 30s

start=$(date +%s.%N)
job=$("$bin/drover" submit --app sort -r "$r" --shared --wait "$work/data/records.txt" 2>/dev/null)
"$bin/drover" get "$job" -o "$work/out"
drover=$(echo "$(date +%s.%N) - $start" | bc)
rss1=$(peak "$w1")
rss2=$(peak "$w2")
"$bin/drover" status "$job" | grep -E '^(took|counters)'

cat "$work"/out/part-* | cmp - "$work/gnu.txt"
printf 'sort of %s (%d bytes, %d records), R = %d, outputs byte-identical\n' "$size" "$bytes" $((bytes / 100)) "$r"
printf '%-40s %8.1f s  peak RSS %s MiB\n' "LC_ALL=C sort -S 512M --parallel=2" "$gnu" "$gnu_rss"
printf '%-40s %8.1f s  peak RSS %s and %s MiB (workers)\n' "drover, 2 workers" "$drover" "$rss1" "$rss2"
printf 'ratio drover / GNU sort: %.2f\n' "$(echo "$drover / $gnu" | bc -l)"
