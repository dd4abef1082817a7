#!/bin/sh
# Cookie semaphores as libdevmapper makes them (key 0x0d4dXXXX, one
# semaphore), then dmsetup lists them (SEM_STAT over every index, GETVAL)
# and removes them (udevcomplete_all, which skips the ones changed less
# than AGE minutes ago by their times). The cookies' own operations need
# the device-mapper driver; these do not.
set -e
perl -e '
use IPC::SysV qw(IPC_CREAT IPC_EXCL SETVAL);
for my $k (0x0d4d0001, 0x0d4d0002, 0x0d4d0003, 0x12345) {
  my $id = semget($k, 1, IPC_CREAT|IPC_EXCL|0600) // die "semget: $!";
  semctl($id, 0, SETVAL, $k == 0x0d4d0003 ? 0 : 2) or die "setval: $!";
  # One cookie is incremented by an operation: its otime is set.
  semop($id, pack("s!3", 0, 1, 0)) or die "semop: $!" if $k == 0x0d4d0002;
}'
year=$(date +%Y)
# Cookie, semid, value, and whether each time is set (this year) or 0.
cookies() {
  awk -v y="$year" 'NR > 1 { print $1, $2, $3, ($8 == y ? "otime=set" : $8 == 1970 ? "otime=0" : "otime=" $8), ($13 == y ? "ctime=set" : "ctime=" $13) }'
}
dmsetup udevcookies | cookies
dmsetup udevcomplete_all -y 1
dmsetup udevcomplete_all -y
dmsetup udevcookies | cookies
ipcs -s | awk 'NR > 3 && NF { print $1, $2, $4, $5 }'
