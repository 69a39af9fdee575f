#!/usr/bin/env bash
# CPU time, syscalls and io_uring operations per request of a running proxy:
# perf counts them in PID (a comma-separated list for nginx's workers; all
# threads) while h2load sends exactly N HTTP/1.1 requests on 64 connections to
# URL, twice: CPU (task-clock) alone first, since tracepoints add overhead per
# event, then the tracepoints. The upstream nginx's stub_status confirms every
# request reached it. Needs perf and h2load.
# usage: count.sh PID URL UPSTREAM_PORT [N]
set -euo pipefail
pid=$1 url=$2 upstream=$3 n=${4:-50000}
counted() { curl -s "http://127.0.0.1:$upstream/__bench_requests" | awk 'NR==3{print $3}'; }
events=raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter,io_uring:io_uring_submit_req
events+=,io_uring:io_uring_poll_arm,io_uring:io_uring_queue_async_work
for s in recvfrom sendto readv writev read write epoll_wait getsockopt futex; do events+=,syscalls:sys_enter_$s; done
out=$(mktemp)
for what in task-clock "$events"; do
    before=$(counted)
    perf stat -x, -e "$what" -p "$pid" -o "$out" -- h2load --h1 -n "$n" -c 64 -t 2 "$url" >/dev/null
    requests=$(( $(counted) - before - 1 ))
    echo "requests reaching the upstream: $requests (sent $n)"
    awk -F, -v r="$requests" '
        $3 == "task-clock" { printf "%-40s %9.0f  %6.2f us per request\n", "CPU (task-clock, ms)", $1, $1 * 1000 / r }
        $3 != "task-clock" && $1 ~ /^[0-9]+$/ && $1 > 0 { printf "%-40s %9d  %6.2f per request\n", $3, $1, $1 / r }' "$out"
done
rm -f "$out"
