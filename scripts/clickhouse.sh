#!/usr/bin/env bash
# The ClickHouse servers the test suite and benchmarks use, on loopback only, each with its own
# config and data in a temporary folder: one single server, and a two-shard cluster made of two
# more servers (cluster "keylens_2shards" in both servers' remote_servers).
#
#   scripts/clickhouse.sh start    installs Debian's clickhouse-server if missing, starts the three,
#                                  waits until they answer, and prints shell assignments:
#                                    KEYLENS_CLICKHOUSE_URL, KEYLENS_CLICKHOUSE_CLUSTER_URL,
#                                    KEYLENS_CLICKHOUSE_DIR (for stop)
#   scripts/clickhouse.sh stop DIR stops the servers started in DIR and removes it
#
# Ports (HTTP / native): single 18200/19200, shards 18201/19201 and 18202/19202; override the
# base with KEYLENS_CH_PORT (default 18200).
set -euo pipefail
cmd="${1:-}"
base="${KEYLENS_CH_PORT:-18200}"

stop() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  for pidfile in "$dir"/*/pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$dir"/*/pid; do
    [ -f "$pidfile" ] || continue
    for _ in $(seq 1 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

# ready PORT: true once the server's HTTP interface answers /ping (bash's /dev/tcp: no curl needed).
ready() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  local answer
  answer=$(timeout 2 cat <&3 || true)
  exec 3<&- 3>&-
  [[ "$answer" == *"Ok."* ]]
}

# server DIR NAME HTTP TCP INTERSERVER: writes the config and starts one server in the background.
server() {
  local dir="$1/$2" http="$3" tcp="$4" inter="$5"
  mkdir -p "$dir/data" "$dir/tmp" "$dir/log"
  cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
  cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <interserver_http_port>$inter</interserver_http_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <remote_servers>
    <keylens_2shards>
      <shard><replica><host>127.0.0.1</host><port>$((base + 1001))</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>$((base + 1002))</port></replica></shard>
    </keylens_2shards>
  </remote_servers>
</yandex>
XML
  if ready "$http"; then
    echo "clickhouse.sh: port $http is taken (a server from an earlier run?); stop it or set KEYLENS_CH_PORT" >&2
    exit 1
  fi
  clickhouse-server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
  echo $! > "$dir/pid"
}

case "$cmd" in
  start)
    if ! command -v clickhouse-server >/dev/null; then
      echo "clickhouse.sh: installing Debian's clickhouse-server (once)" >&2
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null; } ||
        { echo "clickhouse.sh: cannot install clickhouse-server; install it (apt-get install -y clickhouse-server)" >&2; exit 1; }
    fi
    dir=$(mktemp -d /tmp/keylens-clickhouse.XXXXXX)
    trap 'stop "$dir"' ERR
    server "$dir" single "$base" "$((base + 1000))" "$((base + 2000))"
    server "$dir" shard1 "$((base + 1))" "$((base + 1001))" "$((base + 2001))"
    server "$dir" shard2 "$((base + 2))" "$((base + 1002))" "$((base + 2002))"
    for port in "$base" "$((base + 1))" "$((base + 2))"; do
      for i in $(seq 1 120); do
        ready "$port" && break
        if [ "$i" = 120 ]; then
          echo "clickhouse.sh: the server on port $port did not come up in 60 s; its log:" >&2
          tail -n 30 "$dir"/*/log/*.log >&2 || true
          stop "$dir"
          exit 1
        fi
        sleep 0.5
      done
    done
    echo "clickhouse.sh: 3 servers up in $dir" >&2
    printf 'KEYLENS_CLICKHOUSE_URL=%q\n' "clickhouse://127.0.0.1:$base/keylens"
    printf 'KEYLENS_CLICKHOUSE_CLUSTER_URL=%q\n' "clickhouse://127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))/keylens?cluster=keylens_2shards"
    printf 'KEYLENS_CLICKHOUSE_DIR=%q\n' "$dir"
    ;;
  stop)
    stop "${2:?usage: scripts/clickhouse.sh stop DIR}"
    ;;
  *)
    echo "usage: scripts/clickhouse.sh start | stop DIR" >&2
    exit 2
    ;;
esac
