#!/usr/bin/env bash
# compose-test.sh runs Drover on the three-node cluster of
# docker-compose.yml and checks its outputs byte for byte against
# sequential runs on this machine, before and after faults: a broker and a
# worker killed during a job, a broker cut off from the network and put
# back. It tears the cluster down, volumes included, however it ends.
#
#	scripts/compose-test.sh       # or: make compose-test
#
# It installs nothing. It needs Go, a Docker Engine that answers `docker
# info`, `docker compose` or `docker-compose`, and Debian's busybox-static
# (/bin/busybox) for the image; no image is pulled. The cluster runs as
# compose project drover-compose-test, its client ports published on
# 127.0.0.1:14222-14224 (DROVER_PORT_1..3 move them), so a cluster of
# the default project and a broker on 4222 may run beside it. With
# COMPOSE_TEST_KEEP=1 a failed run leaves the cluster up to look at.
set -euo pipefail
cd "$(dirname "$0")/.."

project=${COMPOSE_TEST_PROJECT:-drover-compose-test}
export DROVER_PORT_1=${DROVER_PORT_1:-14222} DROVER_PORT_2=${DROVER_PORT_2:-14223} DROVER_PORT_3=${DROVER_PORT_3:-14224}
export DROVER_HTTP_PORT_1=${DROVER_HTTP_PORT_1:-18222} DROVER_HTTP_PORT_2=${DROVER_HTTP_PORT_2:-18223} DROVER_HTTP_PORT_3=${DROVER_HTTP_PORT_3:-18224}
urls=nats://127.0.0.1:$DROVER_PORT_1,nats://127.0.0.1:$DROVER_PORT_2,nats://127.0.0.1:$DROVER_PORT_3
inputs=(examples/data/*.txt)
# The README's word count with shell tools, for the streaming app.
mapper="tr -cs 'A-Za-z' '\n' | grep -v '^\$' | sed 's/\$/\t1/'"
reducer="awk -F'\t' '\$1 != p { if (NR > 1) print p, n; p = \$1; n = 0 } { n += \$2 } END { if (NR) print p, n }'"

started=$(date +%s)
step() { echo "compose-test [$(($(date +%s) - started))s]: $*"; }
fail() {
	echo "compose-test: FAILED: $*" >&2
	exit 1
}
need() {
	echo "compose-test: $*" >&2
	exit 1
}

command -v go >/dev/null || need "needs Go 1.26 (go is not on PATH)"
command -v docker >/dev/null || need "needs Docker (docker is not on PATH)"
docker info >/dev/null 2>&1 || need "needs a Docker Engine: docker info fails"
if docker compose version >/dev/null 2>&1; then
	compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
	compose_cmd=(docker-compose)
else
	need "needs Docker Compose: neither 'docker compose' nor docker-compose is installed"
fi
[ -x /bin/busybox ] || need "needs /bin/busybox for the image: apt-get install busybox-static"

# compose runs the compose tool on the cluster with the exec override, or,
# with COMPOSE_FILES=base, without it, for at most 5 minutes.
compose() {
	local files=(-f docker-compose.yml)
	[ "${COMPOSE_FILES:-exec}" = base ] || files+=(-f docker-compose.exec.yml)
	timeout 300 "${compose_cmd[@]}" -p "$project" "${files[@]}" "$@"
}
container() { compose ps -q "$1"; }

work=$(mktemp -d)
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [ "$status" -ne 0 ]; then
		echo "compose-test: the services' last log lines:" >&2
		compose logs --no-color --tail 30 >&2 2>&1 || true
	fi
	if [ "$status" -ne 0 ] && [ -n "${COMPOSE_TEST_KEEP:-}" ]; then
		echo "compose-test: COMPOSE_TEST_KEEP is set: the cluster stays up; end it with: ${compose_cmd[*]} -p $project down -v" >&2
		rm -rf "$work"
		exit "$status"
	fi
	step "tearing the cluster down, volumes included"
	compose down -v --remove-orphans -t 5 >/dev/null 2>&1 ||
		echo "compose-test: compose down failed; see docker ps -a --filter label=com.docker.compose.project=$project" >&2
	rm -rf "$work"
	if [ "$status" -eq 0 ]; then
		step "passed"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# drover runs the CLI of this machine against the cluster, bounded.
drover() { timeout 300 bin/drover "$1" --nats "$urls" "${@:2}"; }

# poll runs "$@" every half second until it succeeds or $1 seconds pass.
poll() {
	local seconds=$1 what=$2
	shift 2
	local end=$(($(date +%s) + seconds))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || fail "$what within ${seconds}s"
		sleep 0.5
	done
}

# healthy is true when the broker of service $1 says so on /healthz:
# current with the meta leader and with every stream it holds.
healthy() { docker exec "$(container "$1")" wget -q -O /dev/null http://127.0.0.1:8222/healthz; }

wait_healthy() {
	local svc
	for svc in "$@"; do
		poll 90 "$svc healthy" healthy "$svc"
	done
}

job_state() { drover status "$1" 2>/dev/null | awk '$1 == "state" { print $2 }'; }
# job_running is true while job $1 maps and has committed a map.
job_running() { [ "$(job_state "$1")" = mapping ] && drover status "$1" | grep -Eq '^maps +[1-9]'; }
# progress says how far job $1 is.
progress() {
	drover status "$1" 2>&1 | awk '
		$1 == "state" || $1 == "maps" || $1 == "reduces" { line = line $1 " " $2 "  "; next }
		/^drover: / { line = line $0 }
		END { print line }'
}
# status_answers is true when drover status answers for job $1.
status_answers() { [ -n "$(job_state "$1")" ]; }
# held_for_exec is true while job $1 waits for a worker that runs commands.
held_for_exec() { drover status "$1" | grep -Eq '^waiting.*--allow-exec'; }
job_ended() { case "$(job_state "$1")" in done | failed | cancelled) return 0 ;; esac; return 1; }

# submit runs drover submit --wait with "$@" and prints the job's ID.
submit() {
	local id
	id=$(drover submit --wait "$@" 2>"$work/submit.err") || {
		cat "$work/submit.err" >&2
		fail "drover submit $*"
	}
	echo "$id"
}

# check gets job $1's output and compares it byte for byte with $2.
check() {
	local job=$1 want=$2 got=$work/got-$1
	drover get "$job" -o "$got" >/dev/null || fail "drover get $job"
	diff -r "$want" "$got" >/dev/null || fail "job $job's output differs from the sequential run's ($(diff -rq "$want" "$got" | head -3))"
	step "job $job: output identical to the sequential run's ($(cat "$got"/part-* | wc -l) lines in $(ls "$got" | wc -l) files)"
}

step "building bin/ and the image drover/drover:local"
go build -o bin/ ./cmd/...
docker/build-images.sh

step "sequential reference runs on this machine"
bin/drover run --app wordcount -o "$work/ref-wordcount" "${inputs[@]}" >/dev/null 2>"$work/run.err" ||
	{ cat "$work/run.err" >&2; fail "drover run --app wordcount"; }
bin/drover run --app streaming --allow-exec -o "$work/ref-streaming" --arg "$mapper" --arg "$reducer" "${inputs[@]}" >/dev/null 2>"$work/run.err" ||
	{ cat "$work/run.err" >&2; fail "drover run --app streaming"; }

step "starting the cluster without the exec override: 3 brokers, 2 masters, 3 workers"
COMPOSE_FILES=base compose up -d 2>&1 | sed 's/^/    /'
wait_healthy nats-1 nats-2 nats-3
step "waiting for the Master service"
drover ready --service Master --timeout 2m >/dev/null || fail "no Master answered within 2m"

step "a wordcount job from this machine"
job=$(submit --app wordcount "${inputs[@]}")
check "$job" "$work/ref-wordcount"

step "a streaming job waits: the workers run no commands without the override"
held=$(drover submit --app streaming --arg "$mapper" --arg "$reducer" "${inputs[@]}" 2>"$work/submit.err") || {
	cat "$work/submit.err" >&2
	fail "drover submit of the streaming job"
}
poll 30 "job $held held for a worker started with --allow-exec" held_for_exec "$held"
step "job $held: $(drover status "$held" | awk '$1 == "waiting"')"

step "restarting the workers with docker-compose.exec.yml (--allow-exec)"
compose up -d 2>&1 | sed 's/^/    /'
drover ready --service Master --timeout 1m >/dev/null || fail "no Master answered within 1m"

step "the held streaming job runs on them"
poll 120 "job $held to end" job_ended "$held"
[ "$(job_state "$held")" = done ] || fail "job $held ended $(job_state "$held")"
check "$held" "$work/ref-streaming"

# The faults come during a job of some 35 map tasks that each take 3s or
# more: the same streaming job with a mapper that sleeps first.
step "a slow streaming job, faults during it"
job=$(drover submit --app streaming --no-reuse --split-size 8192 --arg "sleep 3; $mapper" --arg "$reducer" "${inputs[@]}") ||
	fail "drover submit"
poll 60 "job $job running" job_running "$job"
step "job $job: $(progress "$job")"

step "killing broker nats-2 and worker worker-2 (SIGKILL)"
compose kill nats-2 worker-2 2>&1 | sed 's/^/    /'
poll 30 "job $job's status through the other brokers" status_answers "$job"
step "job $job: $(progress "$job")"
step "restarting nats-2"
compose start nats-2 2>&1 | sed 's/^/    /'
wait_healthy nats-1 nats-2 nats-3

nats3=$(container nats-3)
network=$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' "$nats3")
step "cutting nats-3 off network $network for 5s"
docker network disconnect "$network" "$nats3"
sleep 5
step "job $job: $(progress "$job")"
step "reconnecting nats-3"
docker network connect --alias nats-3 "$network" "$nats3"
wait_healthy nats-1 nats-2 nats-3
step "job $job: $(progress "$job")"

step "waiting for job $job to end"
if ! (poll 240 "job $job done" job_ended "$job"); then
	drover status "$job" >&2 || true
	fail "job $job did not end within 240s of the faults (the workers' 'task failed' lines below say which attempts failed)"
fi
[ "$(job_state "$job")" = done ] || { drover status "$job" >&2; fail "job $job ended $(job_state "$job")"; }
check "$job" "$work/ref-streaming"

step "after the faults: a wordcount job that reuses no map output"
job=$(submit --app wordcount --no-reuse --split-size 65536 "${inputs[@]}")
check "$job" "$work/ref-wordcount"
