#!/usr/bin/env bash
# Start the machine's PostgreSQL, MariaDB and Redis when they are not running (the
# commands of DEVELOPERS.md), then wait until each accepts connections. Fails loudly.
set -uo pipefail

wait_for() {  # name, command
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then echo "ensure_services: $name is up"; return 0; fi
    sleep 0.5
  done
  echo "ensure_services: $name did not come up" >&2
  return 1
}

pg_up()    { pg_isready -h 127.0.0.1 -p 5432 -q >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
maria_up() { mysqladmin -h 127.0.0.1 -P 3306 -uroot --connect-timeout=2 ping >/dev/null 2>&1; }

status=0
if ! pg_up; then
  echo "ensure_services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
wait_for PostgreSQL pg_up || status=1

if ! redis_up; then
  echo "ensure_services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
wait_for Redis redis_up || status=1

if ! maria_up; then
  echo "ensure_services: starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
wait_for MariaDB maria_up || status=1

if [ "$status" -ne 0 ]; then
  echo "ensure_services: FAILED — PostgreSQL (127.0.0.1:5432), MariaDB (127.0.0.1:3306) and Redis (127.0.0.1:6379) must be reachable" >&2
fi
exit $status
