#!/usr/bin/env bash
# Throwaway Redis (port 6399) and PostgreSQL (port 6432) for the scale-out measurements in
# bench/RESULTS.md, pinned to core 1. Run as root (PostgreSQL runs as the postgres user); stop
# them with `redis-cli -p 6399 shutdown nosave` and `runuser -u postgres -- pg_ctl -D
# /tmp/pgbench/data stop`.
set -euo pipefail
taskset -c 1 redis-server --port 6399 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir /tmp >/dev/null
rm -rf /tmp/pgbench && mkdir -p /tmp/pgbench && chown postgres /tmp/pgbench
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D /tmp/pgbench/data -A trust -U postgres >/dev/null
runuser -u postgres -- taskset -c 1 /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pgbench/data -l /tmp/pgbench/log -o "-p 6432 -k /tmp/pgbench -c listen_addresses=127.0.0.1" -w start >/dev/null
echo ready
