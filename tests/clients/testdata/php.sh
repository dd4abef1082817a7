# PHP's sysvsem against a System V semaphore namespace; run by php_test.go.
# Usage: sh php.sh N M COUNTERFILE. N concurrent php processes each
# increment the counter M times under sem_acquire/sem_release.
set -u
N=$1 M=$2 F=$3
PHP="php $(dirname "$0")/sem.php"
KEY=0x5e3b0100
$PHP check $KEY
$PHP holder $KEY
$PHP after_holder $KEY
echo 0 > "$F"
i=0; pids=
while [ $i -lt "$N" ]; do $PHP worker $KEY "$F" "$M" & pids="$pids $!"; i=$((i+1)); done
fail=0; for p in $pids; do wait $p || fail=$((fail+1)); done
echo "workers=$N failed=$fail counter=$(cat "$F") expected=$((N*M))"
$PHP remove $KEY
ipcs -s | awk '$1 ~ /^0x/ {n++} END {print "sets_left=" n+0}'
