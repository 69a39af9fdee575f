#!/usr/bin/env bash
# Syscalls and io_uring operations per request of a running proxy: perf's
# tracepoints count them in process PID (all its threads) while h2load sends
# exactly N HTTP/1.1 requests (64 connections) to URL; the upstream nginx's
# stub_status confirms every request reached it. Needs perf and h2load.
# usage: count.sh PID URL UPSTREAM_PORT [N]
set -euo pipefail
pid=$1 url=$2 upstream=$3 n=${4:-50000}
counted() { curl -s "http://127.0.0.1:$upstream/__bench_requests" | awk 'NR==3{print $3}'; }
events=raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter,io_uring:io_uring_submit_req
events+=,io_uring:io_uring_poll_arm,io_uring:io_uring_queue_async_work
for s in recvfrom sendto readv writev read write epoll_wait futex; do events+=,syscalls:sys_enter_$s; done
out=$(mktemp)
before=$(counted)
perf stat -x, -e "$events" -p "$pid" -o "$out" -- h2load --h1 -n "$n" -c 64 -t 2 "$url" >/dev/null
requests=$(( $(counted) - before - 1 ))
echo "requests reaching the upstream: $requests (sent $n)"
awk -F, -v r="$requests" '$1 ~ /^[0-9]+$/ && $1 > 0 { printf "%-40s %9d  %6.2f per request\n", $3, $1, $1 / r }' "$out"
rm -f "$out"
