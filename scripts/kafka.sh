#!/usr/bin/env bash
# The CI/test Kafka broker: one combined KRaft node (broker + controller) of Apache Kafka 4.x, run
# from the Maven jars of deploy/kafka/pom.xml with the machine's Java 17. Not a production
# deployment (deploy/kafka/README.md). Run from anywhere:
#   bash scripts/kafka.sh install            # jars + class archive into the cache (once, cached)
#   bash scripts/kafka.sh start DIR [PORT]   # format DIR once, start, wait; prints 127.0.0.1:PORT
#   bash scripts/kafka.sh stop DIR           # SIGTERM, up to 30 s for a clean shutdown, then SIGKILL
#   bash scripts/kafka.sh status DIR         # "running ..." (exit 0) or "stopped" (exit 3)
# The jars live in ${TRACESIEVE_CACHE:-$HOME/.cache/tracesieve}/kafka-<version>/libs; DIR holds
# the rest: server.properties, data/ (log.dirs: the topics), logs/ (server.log, stdout.log) and
# broker.pid. A stop then a start of the same DIR keeps the topics, the offsets and both ports.
# Environment: KAFKA_HEAP (default 512m), KAFKA_START_TIMEOUT_S (default 60), JAVA, PYTHON
# (python3: the readiness probe), KAFKA_WATCH_PID (stop the broker when that process is gone, so a
# killed test run leaves no broker behind).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$ROOT/scripts/kafka.sh
POM=$ROOT/deploy/kafka/pom.xml
LOG4J2=$ROOT/deploy/kafka/log4j2.yaml
CACHE=${TRACESIEVE_CACHE:-$HOME/.cache/tracesieve}
JAVA=${JAVA:-java}
PYTHON=${PYTHON:-python3}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
HOME_DIR=$CACHE/kafka-$KAFKA_VERSION
LIBS=$HOME_DIR/libs
ARCHIVE=$HOME_DIR/kafka.jsa
HEAP=${KAFKA_HEAP:-512m}
START_TIMEOUT_S=${KAFKA_START_TIMEOUT_S:-60}
STOP_TIMEOUT_S=30

die() { echo "kafka.sh: $*" >&2; exit 1; }
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { "$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# --- process helpers: the broker is not our child once start returns, so go by /proc --------------

# alive PID: the process exists and is not a zombie (an unreaped corpse still answers kill -0).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$(echo "${stat##*) }" | cut -d' ' -f1)" != Z ]
}

# ours PID DIR: PID is the broker of DIR (not a recycled pid that now runs something else).
ours() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $2/server.properties"; }

# running_pid DIR: prints the pid of DIR's broker, or fails when none runs.
running_pid() {
  local pid
  pid=$(cat "$1/broker.pid" 2>/dev/null) || return 1
  alive "$pid" && ours "$pid" "$1" && echo "$pid"
}

# ports DIR: prints "PORT CONTROLLER_PORT" of DIR's server.properties, or nothing.
ports() {
  sed -n 's|^listeners=PLAINTEXT://127.0.0.1:\([0-9]*\),CONTROLLER://127.0.0.1:\([0-9]*\)$|\1 \2|p' \
    "$1/server.properties" 2>/dev/null || true
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

listening() {
  "$PYTHON" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
    "$1" 2>/dev/null
}

# probe PORT: a Metadata v0 request (what aiokafka bootstraps with) answered with at least one
# broker, i.e. the listener is open and the node has registered itself with its controller.
probe() {
  "$PYTHON" - "$1" 2>/dev/null <<'EOF'
import socket, struct, sys
client = b"kafka.sh"
body = struct.pack(">hhih", 3, 0, 7, len(client)) + client + struct.pack(">i", 0)  # all topics
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2) as s:
    s.settimeout(2)
    s.sendall(struct.pack(">i", len(body)) + body)
    head = b""
    while len(head) < 12:
        chunk = s.recv(12 - len(head))
        if not chunk:
            sys.exit(1)
        head += chunk
_size, correlation, brokers = struct.unpack(">iii", head)
sys.exit(0 if correlation == 7 and brokers >= 1 else 1)
EOF
}

log_tail() {
  local f
  for f in "$1/logs/server.log" "$1/logs/stdout.log"; do
    [ -s "$f" ] && { echo "--- last lines of $f"; tail -n 25 "$f"; }
  done >&2
  return 0
}

require_java17() {
  local major
  command -v "$JAVA" >/dev/null || die "no java: Kafka 4.x needs Java 17+ (set JAVA=...)"
  major=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ "${major:-0}" -ge 17 ] || die "Kafka 4.x needs Java 17+, $JAVA is version ${major:-unknown}"
}

# --- sub-commands -------------------------------------------------------------------------------

cmd_install() {
  command -v mvn >/dev/null || die "install needs Maven (mvn) to fetch the jars of $POM"
  mkdir -p "$HOME_DIR"
  exec 9>"$HOME_DIR/.lock"
  flock 9 # two test runs installing at once take turns; the second finds it cached
  if [ -f "$HOME_DIR/.complete" ]; then
    echo "kafka $KAFKA_VERSION: cached in $LIBS"
    [ -f "$ARCHIVE" ] || build_class_archive
    return
  fi
  local t0 tmp=$HOME_DIR/libs.tmp.$$
  t0=$(now)
  rm -rf "$tmp" "$LIBS"
  mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp"
  mv "$tmp" "$LIBS"
  touch "$HOME_DIR/.complete" # last: a half-copied folder is never taken for complete
  echo "kafka $KAFKA_VERSION: installed $(find "$LIBS" -name '*.jar' | wc -l) jars" \
    "($(du -sh "$LIBS" | cut -f1)) in $LIBS in $(since "$t0") s"
  build_class_archive
}

# build_class_archive: the broker's classes as a CDS archive ($ARCHIVE), dumped by one throwaway
# broker at its exit. Every later start maps it instead of loading and verifying ~40 MB of jars:
# measured 4-6 s instead of 8 s to ready on the loaded 2-core machine. Optional: without it (or
# when the JDK changed and Java rejects it) brokers start the slow way.
build_class_archive() {
  local t0 tmp
  t0=$(now)
  tmp=$(mktemp -d)
  if _KAFKA_CDS_DUMP=$ARCHIVE.tmp bash "$SELF" start "$tmp/broker" "$(free_port)" \
    >/dev/null 2>"$tmp/start.err" && bash "$SELF" stop "$tmp/broker" >/dev/null && [ -s "$ARCHIVE.tmp" ]; then
    mv "$ARCHIVE.tmp" "$ARCHIVE"
    echo "kafka $KAFKA_VERSION: class archive ($(du -sh "$ARCHIVE" | cut -f1)) in $(since "$t0") s"
  else
    bash "$SELF" stop "$tmp/broker" >/dev/null 2>&1 || true
    rm -f "$ARCHIVE.tmp"
    echo "kafka.sh: could not build the class archive (brokers will start slower):" >&2
    cat "$tmp/start.err" >&2
  fi
  rm -rf "$tmp"
}

# write_properties DIR PORT CONTROLLER_PORT: the broker's whole configuration.
write_properties() {
  cat >"$1/server.properties" <<EOF
# Written by scripts/kafka.sh start: one combined KRaft node for CI and tests, not production.
process.roles=broker,controller
node.id=1
# Loopback only. The controller port is kept across restarts: format --standalone recorded it
# as the quorum's one voter.
listeners=PLAINTEXT://127.0.0.1:$2,CONTROLLER://127.0.0.1:$3
advertised.listeners=PLAINTEXT://127.0.0.1:$2,CONTROLLER://127.0.0.1:$3
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$3
log.dirs=$1/data
# One node: every topic, internal ones included, has one replica and needs one in sync.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests: a consumer group's first rebalance starts at once instead of waiting 3 s for members,
# and producers (the OTel Collector's Kafka exporter too) may create topics by writing to them.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
# After a crash (SIGKILL) the restarted node waits until the controller expires its old
# registration (broker.session.timeout.ms, 9 s by default): 4 s here, with heartbeats to match.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
# The machine has 2 shared cores: fewer threads than the defaults (3 network, 8 I/O).
num.network.threads=2
num.io.threads=2
EOF
}

cmd_start() {
  local dir=${1:?usage: kafka.sh start DIR [PORT]} port=${2:-} old_port cport pid t0
  [ -f "$HOME_DIR/.complete" ] || die "kafka $KAFKA_VERSION is not installed: run 'bash $SELF install'"
  require_java17
  mkdir -p "$dir/logs"
  dir=$(cd "$dir" && pwd)
  if pid=$(running_pid "$dir"); then
    read -r port _ <<<"$(ports "$dir")"
    echo "kafka.sh: already running in $dir (pid $pid)" >&2
    echo "127.0.0.1:$port"
    return
  fi
  read -r old_port cport <<<"$(ports "$dir")"
  port=${port:-${old_port:-9092}}
  cport=${cport:-$(free_port)}
  listening "$port" && die "port $port is already in use on 127.0.0.1 (another broker?)"
  listening "$cport" && die "controller port $cport of $dir is already in use on 127.0.0.1"
  write_properties "$dir" "$port" "$cport"

  local cds=() # the class archive of install: both JVMs below start faster with it
  if [ -f "$ARCHIVE" ]; then cds=("-XX:SharedArchiveFile=$ARCHIVE"); fi
  t0=$(now)
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    # A Kafka Uuid: 16 random bytes in URL-safe base64 without padding, never starting with "-".
    cluster_id=$("$PYTHON" -c '
import base64, uuid
while (s := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()).startswith("-"):
    pass
print(s)')
    "$JAVA" -Xmx256m "${cds[@]}" -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J2" \
      -Dkafka.logs.dir="$dir/logs" kafka.tools.StorageTool \
      format --standalone -t "$cluster_id" -c "$dir/server.properties" \
      >"$dir/logs/format.log" 2>&1 || { cat "$dir/logs/format.log" >&2; die "formatting $dir/data failed"; }
  fi

  # install's throwaway broker writes the archive at its exit
  if [ -n "${_KAFKA_CDS_DUMP:-}" ]; then cds=("-XX:ArchiveClassesAtExit=$_KAFKA_CDS_DUMP"); fi
  # The JVM options of Kafka's kafka-run-class.sh, with a smaller heap (-Xmx1G there).
  setsid "$JAVA" -server "-Xmx$HEAP" "${cds[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J2" -Dkafka.logs.dir="$dir/logs" \
    -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/broker.pid"
  if [ -n "${KAFKA_WATCH_PID:-}" ]; then
    setsid bash "$SELF" _watch "$KAFKA_WATCH_PID" "$pid" "$dir" >/dev/null 2>&1 </dev/null &
  fi

  local deadline=$((SECONDS + START_TIMEOUT_S))
  until probe "$port"; do
    if ! alive "$pid"; then
      log_tail "$dir"
      die "the broker in $dir exited during startup"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      log_tail "$dir"
      die "the broker in $dir did not answer on 127.0.0.1:$port within $START_TIMEOUT_S s (killed)"
    fi
    sleep 0.3
  done
  echo "kafka.sh: kafka $KAFKA_VERSION up in $(since "$t0") s (pid $pid, data $dir/data)" >&2
  echo "127.0.0.1:$port"
}

cmd_stop() {
  local dir=${1:?usage: kafka.sh stop DIR} pid t0
  dir=$(cd "$dir" 2>/dev/null && pwd) || die "no such folder: $1"
  if ! pid=$(running_pid "$dir"); then
    rm -f "$dir/broker.pid"
    echo "kafka.sh: no broker running in $dir"
    return
  fi
  t0=$(now)
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
    echo "kafka.sh: the broker in $dir did not stop within $STOP_TIMEOUT_S s: killed (pid $pid)"
  else
    echo "kafka.sh: stopped the broker in $dir in $(since "$t0") s (pid $pid)"
  fi
  rm -f "$dir/broker.pid"
}

cmd_status() {
  local dir=${1:?usage: kafka.sh status DIR} pid port
  dir=$(cd "$dir" 2>/dev/null && pwd) || { echo "stopped"; exit 3; }
  if pid=$(running_pid "$dir"); then
    read -r port _ <<<"$(ports "$dir")"
    echo "running: pid $pid, bootstrap 127.0.0.1:$port, data $dir/data"
  else
    echo "stopped"
    exit 3
  fi
}

# _watch PARENT PID DIR (internal): SIGTERM broker PID once PARENT is gone. Goes by the pid, not
# by DIR, so it never touches a later broker of the same folder.
cmd_watch() {
  while alive "$1" && alive "$2"; do sleep 2; done
  if alive "$2" && ours "$2" "$3"; then
    kill -TERM "$2"
    local deadline=$((SECONDS + STOP_TIMEOUT_S))
    while alive "$2" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    if alive "$2" && ours "$2" "$3"; then kill -KILL "$2"; fi
  fi
  return 0
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start "${@:2}" ;;
  stop) cmd_stop "${@:2}" ;;
  status) cmd_status "${@:2}" ;;
  _watch) cmd_watch "${@:2}" ;;
  *) die "usage: kafka.sh install | start DIR [PORT] | stop DIR | status DIR" ;;
esac
