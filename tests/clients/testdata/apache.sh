# apache2 with a sysvsem accept mutex; run by apache_test.go.
# Usage: sh apache.sh CONF PIDFILE URL REQUESTS CONCURRENCY
# Starts apache2 (it daemonises), loads it with ab on loopback, stops it,
# waits for its main process to be gone and counts the semaphore sets left.
set -u
CONF=$1 PIDFILE=$2 URL=$3 N=$4 C=$5
sets() { ipcs -s | awk '$1 ~ /^0x/ {n++} END {print n+0}'; }
apache2 -f "$CONF" -k start || { echo "apache2 -k start failed"; exit 1; }
i=0; while [ ! -s "$PIDFILE" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
PID=$(cat "$PIDFILE") || exit 1
echo "sets_while_running=$(sets)"
echo "children=$(pgrep -c -P "$PID")"
ab -q -n "$N" -c "$C" "$URL"
echo "ab_rc=$?"
apache2 -f "$CONF" -k stop
i=0; while kill -0 "$PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
if kill -0 "$PID" 2>/dev/null; then echo "apache=running"; else echo "apache=stopped"; fi
echo "sets_after_stop=$(sets)"
