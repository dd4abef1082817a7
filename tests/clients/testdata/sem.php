<?php
// PHP sysvsem client run by php.sh (php_test.go): one mode per call.
// Usage: php sem.php check KEY | worker KEY FILE M | holder KEY | final KEY FILE
error_reporting(E_ALL & ~E_WARNING);
$mode = $argv[1];
$key = intval($argv[2], 0);
function b($v) { return $v ? "true" : "false"; }
switch ($mode) {
case "check":
    $s = sem_get($key, 1, 0600, true);
    echo "sem_get=", b($s !== false), "\n";
    echo "acquire=", b(sem_acquire($s)), "\n";
    echo "acquire_nowait_taken=", b(sem_acquire($s, true)), "\n";
    echo "release=", b(sem_release($s)), "\n";
    echo "release_not_held=", b(sem_release($s)), "\n";
    echo "acquire_nowait_free=", b(sem_acquire($s, true)), "\n";
    echo "release=", b(sem_release($s)), "\n";
    $t = sem_get($key + 1, 2, 0600, true);
    echo "max2 acquire1=", b(sem_acquire($t, true)), " acquire2=", b(sem_acquire($t, true)),
         " acquire3=", b(sem_acquire($t, true)), "\n";
    sem_release($t); sem_release($t);
    echo "remove_max2=", b(sem_remove($t)), "\n";
    break;
case "holder": // acquires and exits without releasing (auto_release)
    $s = sem_get($key, 1, 0600, true);
    echo "holder acquire=", b(sem_acquire($s)), "\n";
    exit(0);
case "after_holder":
    $s = sem_get($key, 1, 0600, true);
    echo "after_holder acquire_nowait=", b(sem_acquire($s, true)), "\n";
    sem_release($s);
    break;
case "worker":
    $file = $argv[3]; $m = intval($argv[4]);
    $s = sem_get($key, 1, 0600, true);
    if ($s === false) exit(3);
    for ($i = 0; $i < $m; $i++) {
        if (!sem_acquire($s)) exit(4);
        $v = intval(file_get_contents($file));
        file_put_contents($file, ($v + 1) . "\n");
        if (!sem_release($s)) exit(5);
    }
    exit(0);
case "remove":
    $s = sem_get($key, 1, 0600, true);
    echo "remove=", b(sem_remove($s)), "\n";
    echo "acquire_after_remove=", b(sem_acquire($s, true)), "\n";
    break;
}
