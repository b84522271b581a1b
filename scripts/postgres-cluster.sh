#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests of the PostgreSQL store (issue #14).
#
#   scripts/postgres-cluster.sh start DIR   initdb into DIR (as user postgres: initdb refuses
#                                            root), start it on a free loopback port with its
#                                            socket in DIR, print its URL on standard output
#   scripts/postgres-cluster.sh stop DIR    stop it (fast shutdown) and remove DIR
#   scripts/postgres-cluster.sh halt DIR    stop it (fast shutdown), keeping DIR (an outage)
#   scripts/postgres-cluster.sh resume DIR  start a halted cluster again on the same port
#
# The cluster trusts loopback connections (no password) and is for tests only. Debian's
# `postgresql` package puts the server in /usr/lib/postgresql/<major>/bin, outside PATH.
set -euo pipefail

command=${1:?usage: postgres-cluster.sh start|stop|halt|resume DIR}
dir=${2:?usage: postgres-cluster.sh start|stop|halt|resume DIR}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "postgres-cluster: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi

# Runs a server command as the owner of the cluster: root hands it to user postgres.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$command" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # A free port: the kernel picks one, then the server takes it.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >&2 ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
halt)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  ;;
resume)
  port=$(cat "$dir/port")
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >&2 ||
    { cat "$dir/server.log" >&2; exit 1; }
  ;;
stop)
  if [ -d "$dir/data" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: postgres-cluster.sh start|stop|halt|resume DIR" >&2
  exit 2
  ;;
esac
