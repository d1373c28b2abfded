#!/usr/bin/env bash
# Starts or stops the local AWS emulator (moto server) on 127.0.0.1.
#   scripts/emulator.sh start [PORT]   start it (if not already up) and wait until it answers
#   scripts/emulator.sh stop  [PORT]   stop the one this script started on PORT
# Its log is .local/moto-PORT.log.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:?usage: emulator.sh start|stop [PORT]}
port=${2:-${TENANCY_EMULATOR_PORT:-5005}}
mkdir -p .local
pidfile=.local/moto-$port.pid
url=http://127.0.0.1:$port

up() { curl -fsS -o /dev/null "$url/moto-api/" 2>/dev/null; }

case "$action" in
  start)
    if up; then
      echo "emulator: already answering on $url"
      exit 0
    fi
    [ -x .venv/bin/moto_server ] || scripts/setup.sh
    # setsid: its own process group, so stop can end it with every child.
    setsid .venv/bin/moto_server -H 127.0.0.1 -p "$port" >".local/moto-$port.log" 2>&1 &
    echo $! >"$pidfile"
    # Poll until it answers, up to 60 s; no fixed sleep.
    for _ in $(seq 1 600); do
      if up; then
        echo "emulator: moto on $url (log .local/moto-$port.log)"
        exit 0
      fi
      if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "emulator: moto exited; see .local/moto-$port.log" >&2
        tail -20 ".local/moto-$port.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "emulator: moto did not answer on $url within 60 s" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      kill -- "-$(cat "$pidfile")" 2>/dev/null || kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ;;
  *)
    echo "usage: emulator.sh start|stop [PORT]" >&2
    exit 2
    ;;
esac
