#!/usr/bin/env bash
# The local stack: three MariaDB servers (the shards' servers) and Redis, each on its own port and
# data folder under .stack/ (git-ignored), never the machine's own 3306/6379.
#
#   scripts/stack.sh start    install what is missing, start what is not running (idempotent)
#   scripts/stack.sh stop     stop everything
#   scripts/stack.sh status   what runs, and where
#   scripts/stack.sh reset    stop, delete all data, start fresh
#   scripts/stack.sh kill db1 | redis    kill -9 one server (fault tests and demos)
#
# Ports: SURGE_STACK_MARIADB_PORT (3307; the servers use it, +1, +2), SURGE_STACK_REDIS_PORT (6380).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STACK_DIR=${SURGE_STACK_DIR:-$SURGE_ROOT/.stack}
MARIADB_PORT=${SURGE_STACK_MARIADB_PORT:-3307}
REDIS_PORT=${SURGE_STACK_REDIS_PORT:-6380}
# Each server's InnoDB buffer pool; three of them share the machine with everything else.
BUFFER_POOL=${SURGE_STACK_BUFFER_POOL:-1G}
SERVERS=(db0 db1 db2)

port_of() { echo $((MARIADB_PORT + ${1#db})); }

install_services() {
  if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null \
     || ! command -v redis-server >/dev/null || ! command -v mariadb >/dev/null; then
    apt_install mariadb-server mariadb-client redis-server
  fi
}

raise_file_limit() {
  # 3000 concurrent requests need more descriptors than the usual soft limit of 1024.
  local hard; hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
  ulimit -Sn "$hard" 2>/dev/null || true
}

running_pid() { # running_pid PIDFILE: prints the pid if that process is alive
  [ -s "$1" ] || return 1
  local pid; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

mariadb_ready() { mariadb-admin --no-defaults --protocol=tcp -h127.0.0.1 -P"$(port_of "$1")" -uroot --connect-timeout=2 ping >/dev/null 2>&1; }

write_mariadb_config() {
  local name=$1 dir=$STACK_DIR/$1 user_line=
  [ "$(id -u)" = 0 ] && user_line="user = root"
  cat >"$dir/my.cnf" <<CNF
# Written by scripts/stack.sh: one of the three shard servers of the local stack.
[mysqld]
$user_line
datadir = $dir/data
socket = $dir/mysqld.sock
pid-file = $dir/mysqld.pid
log-error = $dir/error.log
port = $(port_of "$name")
bind-address = 127.0.0.1
skip-name-resolve
skip-log-bin
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
# The capacity plan: 250 connections per server (Surge sizes its pools to stay below).
max_connections = 250
thread_cache_size = 128
table_open_cache = 4000
max_allowed_packet = 64M
# Row locks: conditional updates and SKIP LOCKED queues need no gap locks.
transaction_isolation = READ-COMMITTED
innodb_lock_wait_timeout = 5
# Memory and redo log sized for a write burst; commits are durable (flush at commit), and
# concurrent commits share one fsync (group commit).
innodb_buffer_pool_size = $BUFFER_POOL
innodb_log_file_size = 512M
innodb_log_buffer_size = 64M
innodb_flush_log_at_trx_commit = 1
innodb_io_capacity = 2000
performance_schema = OFF
# A few threads run the statements of all connections: with one thread per connection, hundreds of
# them took turns on two cores (the direct hold transaction: 1,914 a second, 2,679 with the pool).
thread_handling = pool-of-threads
CNF
}

# A server can answer yet be unusable: one whose data folder was deleted under it (a removed
# checkout's stack) still answers pings but cannot create a database.
mariadb_usable() {
  mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(port_of "$1")" -uroot --connect-timeout=2 \
    -e "CREATE DATABASE IF NOT EXISTS surge_stack_probe; DROP DATABASE surge_stack_probe" >/dev/null 2>&1
}

start_mariadb() {
  local name=$1 dir=$STACK_DIR/$1
  # A server already answering on the port (this checkout's, or another's) is reused if it works;
  # one that does not is shut down and replaced.
  if mariadb_ready "$name"; then
    if mariadb_usable "$name"; then
      say "$name already running on port $(port_of "$name")"
      return
    fi
    say "the server on port $(port_of "$name") cannot create a database: shutting it down"
    mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(port_of "$name")" -uroot -e SHUTDOWN \
      >/dev/null 2>&1 || true
    local waited=0
    while mariadb_ready "$name"; do
      sleep 0.5; waited=$((waited + 1))
      [ $waited -gt 120 ] && die "the server on port $(port_of "$name") did not shut down"
    done
  fi
  mkdir -p "$dir"
  write_mariadb_config "$name"
  if [ ! -d "$dir/data/mysql" ]; then
    say "initialising $name in $dir/data"
    mariadb-install-db --defaults-file="$dir/my.cnf" --auth-root-authentication-method=normal \
      --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log"; die "mariadb-install-db failed for $name"; }
  fi
  say "starting $name on port $(port_of "$name")"
  nohup mariadbd --defaults-file="$dir/my.cnf" >>"$dir/stdout.log" 2>&1 &
  local waited=0
  until mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot ping >/dev/null 2>&1; do
    sleep 0.5; waited=$((waited + 1))
    if [ $waited -gt 120 ]; then tail -20 "$dir/error.log" >&2 || true; die "$name did not start"; fi
  done
  # Surge connects over TCP as root without a password: the stack listens on 127.0.0.1 only.
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot -e \
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
}

redis_ready() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

# Redis refuses writes once it cannot write its append-only file (its folder deleted under it).
redis_usable() {
  redis-cli -p "$REDIS_PORT" SET surge:stack:probe 1 EX 5 2>/dev/null | grep -q OK
}

start_redis() {
  local dir=$STACK_DIR/redis
  if redis_ready; then
    if redis_usable; then
      say "redis already running on port $REDIS_PORT"
      return
    fi
    say "the redis on port $REDIS_PORT refuses writes: shutting it down"
    redis-cli -p "$REDIS_PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    local waited=0
    while redis_ready; do
      sleep 0.2; waited=$((waited + 1))
      [ $waited -gt 100 ] && die "the redis on port $REDIS_PORT did not shut down"
    done
  fi
  mkdir -p "$dir"
  say "starting redis on port $REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --appendonly yes --appendfsync everysec --save '' --maxclients 10000 >/dev/null
  local waited=0
  until redis_ready; do
    sleep 0.2; waited=$((waited + 1))
    [ $waited -gt 100 ] && die "redis did not start (see $dir/redis.log)"
  done
}

stop_pidfile() { # stop_pidfile NAME PIDFILE
  local pid
  if pid=$(running_pid "$2"); then
    say "stopping $1"
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

status() {
  local ok=0
  for name in "${SERVERS[@]}"; do
    if mariadb_ready "$name"; then echo "$name   up    127.0.0.1:$(port_of "$name")"
    else echo "$name   down  127.0.0.1:$(port_of "$name")"; ok=1; fi
  done
  if redis_ready; then echo "redis up    127.0.0.1:$REDIS_PORT"
  else echo "redis down  127.0.0.1:$REDIS_PORT"; ok=1; fi
  return $ok
}

case "${1:-}" in
  start)
    install_services
    raise_file_limit
    for name in "${SERVERS[@]}"; do start_mariadb "$name"; done
    start_redis
    ;;
  stop)
    for name in "${SERVERS[@]}"; do stop_pidfile "$name" "$STACK_DIR/$name/mysqld.pid"; done
    stop_pidfile redis "$STACK_DIR/redis/redis.pid"
    ;;
  status) status ;;
  reset)
    "$0" stop
    say "deleting $STACK_DIR"
    rm -rf "$STACK_DIR"
    "$0" start
    ;;
  kill)
    case "${2:-}" in
      db0|db1|db2) pid=$(running_pid "$STACK_DIR/$2/mysqld.pid") && kill -9 "$pid" ;;
      redis) pid=$(running_pid "$STACK_DIR/redis/redis.pid") && kill -9 "$pid" ;;
      *) die "usage: $0 kill db0|db1|db2|redis" ;;
    esac
    ;;
  *) echo "usage: $0 start|stop|status|reset|kill SERVER" >&2; exit 2 ;;
esac
