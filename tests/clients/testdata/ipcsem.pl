# IPC::Semaphore / IPC::SysV (Perl core) against a System V semaphore
# namespace; run by perl_test.go. Usage: perl ipcsem.pl N M COUNTERFILE.
# Prints no pids, ids or times: only values and relations.
use strict; use warnings;
use IPC::SysV qw(IPC_PRIVATE IPC_CREAT IPC_NOWAIT SEM_UNDO S_IRUSR S_IWUSR GETVAL);
use IPC::Semaphore;
use POSIX qw(:errno_h);
$| = 1;
my ($N, $M, $file) = @ARGV;
my $sem = IPC::Semaphore->new(IPC_PRIVATE, 3, S_IRUSR|S_IWUSR|IPC_CREAT) or die "new: $!";
print "id_defined=", (defined $sem->id ? 1 : 0), "\n";
$sem->setall(1, 2, 3) or die "setall: $!";
print "getall=", join(",", $sem->getall), "\n";
my $st = $sem->stat;
printf "stat nsems=%d mode=%o uid=%d gid=%d cuid=%d otime=%d ctime_nonzero=%d\n",
  $st->nsems, $st->mode & 0777, $st->uid, $st->gid, $st->cuid, $st->otime, ($st->ctime > 0 ? 1 : 0);
# op with SEM_UNDO|IPC_NOWAIT succeeds while value > 0
print "op_nowait_undo=", ($sem->op(0, -1, SEM_UNDO|IPC_NOWAIT) ? 1 : 0), "\n";
print "val0=", $sem->getval(0), " pid_is_me=", ($sem->getpid(0) == $$ ? 1 : 0), "\n";
my $ok = $sem->op(0, -1, SEM_UNDO|IPC_NOWAIT);
printf "op_nowait_on_zero=%d errno_EAGAIN=%d\n", ($ok ? 1 : 0), ($!{EAGAIN} ? 1 : 0);
print "otime_nonzero=", ($sem->stat->otime > 0 ? 1 : 0), "\n";
# child takes sem 1 with SEM_UNDO and exits: the kernel undoes it
my $pid = fork // die;
if ($pid == 0) { $sem->op(1, -2, SEM_UNDO) or exit 1; exit(($sem->getval(1) == 0) ? 0 : 2); }
waitpid($pid, 0); print "child_status=", $? >> 8, " val1_after_undo=", $sem->getval(1), "\n";
# multiple ops in one call
print "multi_op=", ($sem->op(1, -1, 0, 2, -3, 0) ? 1 : 0), " getall=", join(",", $sem->getall), "\n";
# setval / getncnt: a child blocks on sem 2 (value 0)
my $w = fork // die;
if ($w == 0) { $sem->op(2, -1, 0) or exit 1; exit 0; }
my $n = 0; for (1..500) { $n = $sem->getncnt(2); last if $n == 1; select(undef,undef,undef,0.01); }
print "ncnt_waiting=", $n, "\n";
$sem->setval(2, 1) or die;
waitpid($w, 0); print "waiter_status=", $? >> 8, " val2=", $sem->getval(2), "\n";
# counter
my $mutex = IPC::Semaphore->new(IPC_PRIVATE, 1, S_IRUSR|S_IWUSR|IPC_CREAT) or die;
$mutex->setval(0, 1) or die;
open(my $fh, ">", $file) or die; print $fh "0\n"; close $fh;
my @kids;
for my $k (1..$N) {
  my $p = fork // die;
  if ($p == 0) {
    for (1..$M) {
      $mutex->op(0, -1, SEM_UNDO) or die "op: $!";
      open(my $r, "<", $file) or die; my $v = <$r>; close $r;
      open(my $o, ">", $file) or die; print $o ($v + 1), "\n"; close $o;
      $mutex->op(0, 1, SEM_UNDO) or die "op: $!";
    }
    exit 0;
  }
  push @kids, $p;
}
my $bad = 0; for (@kids) { waitpid($_, 0); $bad++ if $? != 0 }
open(my $r, "<", $file) or die; my $final = <$r>; chomp $final; close $r;
print "workers_failed=$bad counter=$final expected=", $N*$M, "\n";
print "mutex_val=", $mutex->getval(0), "\n";
# remove
print "remove=", ($sem->remove ? 1 : 0), " remove_mutex=", ($mutex->remove ? 1 : 0), "\n";
my $gone = $sem->getval(0);
printf "after_remove defined=%d EINVAL=%d\n", (defined $gone ? 1 : 0), ($!{EINVAL} ? 1 : 0);
