# python3-sysv-ipc against a System V semaphore namespace; run by
# python_test.go. Usage: /usr/bin/python3 sysvipc.py N M COUNTERFILE.
# stdout has no pids, keys or times (only relations); stderr has timings.
import os, sys, time
import sysv_ipc as S

N, M, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
TIMEOUT = 0.5
out = lambda *a: print(*a, flush=True)
info = lambda *a: print(*a, file=sys.stderr, flush=True)

def raises(exc, f):
    try:
        f()
    except exc:
        return 1
    except Exception as e:
        return "wrong:%s:%s" % (type(e).__name__, e)
    return 0

s = S.Semaphore(None, S.IPC_CREX, 0o600, 1)
out("created key_nonzero=%d id_valid=%d value=%d mode=%o o_time=%d" % (s.key != 0, s.id >= 0, s.value, s.mode, s.o_time))
out("crex_existing_raises_ExistentialError=%s" % raises(S.ExistentialError, lambda: S.Semaphore(s.key, S.IPC_CREX)))
t = S.Semaphore(s.key)
out("open_existing_same_id=%d" % (t.id == s.id))
out("open_missing_raises_ExistentialError=%s" % raises(S.ExistentialError, lambda: S.Semaphore(s.key ^ 0x5a5a5a5a)))

s.acquire()
out("acquired value=%d last_pid_is_me=%d o_time_set=%d" % (s.value, s.last_pid == os.getpid(), s.o_time > 0))
out("nowait_timeout0_raises_BusyError=%s" % raises(S.BusyError, lambda: s.acquire(0)))
s.block = False
out("block_false_raises_BusyError=%s" % raises(S.BusyError, lambda: s.acquire()))
s.block = True
t0 = time.monotonic()
r = raises(S.BusyError, lambda: s.acquire(TIMEOUT))
el = time.monotonic() - t0
info("timed acquire on taken semaphore: BusyError after %.3f s (timeout %.1f s)" % (el, TIMEOUT))
out("timed_acquire_raises_BusyError=%s elapsed_ok=%d" % (r, TIMEOUT * 0.9 <= el < TIMEOUT + 1.5))

# A timed acquire that succeeds: a child releases after 0.2 s.
pid = os.fork()
if pid == 0:
    time.sleep(0.2)
    S.Semaphore(s.key).release()
    os._exit(0)
t0 = time.monotonic()
s.acquire(5)
el = time.monotonic() - t0
os.waitpid(pid, 0)
info("timed acquire woken by a release: %.3f s" % el)
out("timed_acquire_woken ok=%d value=%d" % (0.1 <= el < 3, s.value))

# Blocked waiter is counted.
pid = os.fork()
if pid == 0:
    S.Semaphore(s.key).acquire(10)
    os._exit(0)
n = 0
for _ in range(500):
    n = s.waiting_for_nonzero
    if n == 1:
        break
    time.sleep(0.01)
out("waiting_for_nonzero=%d" % n)
s.release()
_, st = os.waitpid(pid, 0)
out("waiter_exit=%d value=%d" % (os.waitstatus_to_exitcode(st), s.value))

# release/acquire with delta, Z() with timeout.
s.release(5)
out("after_release5 value=%d" % s.value)
out("Z_timeout_raises_BusyError=%s" % raises(S.BusyError, lambda: s.Z(0.1)))
s.acquire(None, 5)
out("after_acquire5 value=%d" % s.value)
s.Z(1)
out("Z_on_zero ok value=%d" % s.value)
s.value = 2
out("set value=%d" % s.value)

# Undo: a child that exits holding the semaphore gives it back only with undo.
for undo in (False, True):
    s.value = 1
    pid = os.fork()
    if pid == 0:
        c = S.Semaphore(s.key)
        c.undo = undo
        c.acquire()
        os._exit(0 if c.value == 0 else 1)
    _, st = os.waitpid(pid, 0)
    out("undo=%s child_exit=%d value_after_exit=%d" % (undo, os.waitstatus_to_exitcode(st), s.value))

# Several processes contending on a counter in a file.
m = S.Semaphore(None, S.IPC_CREX, 0o600, 1)
m.undo = True
with open(path, "w") as f:
    f.write("0\n")
kids = []
t0 = time.monotonic()
for _ in range(N):
    pid = os.fork()
    if pid == 0:
        for _ in range(M):
            with m:
                with open(path) as f:
                    v = int(f.read())
                with open(path, "w") as f:
                    f.write("%d\n" % (v + 1))
        os._exit(0)
    kids.append(pid)
bad = sum(1 for p in kids if os.waitpid(p, 0)[1] != 0)
info("counter: %d processes x %d in %.3f s" % (N, M, time.monotonic() - t0))
with open(path) as f:
    out("counter workers_failed=%d value=%s expected=%d mutex=%d" % (bad, f.read().strip(), N * M, m.value))

# Removal.
key = s.key
sid = s.id
s.remove()
out("after_remove value_raises_ExistentialError=%s" % raises(S.ExistentialError, lambda: s.value))
out("after_remove open_raises_ExistentialError=%s" % raises(S.ExistentialError, lambda: S.Semaphore(key)))
out("remove_twice_raises_ExistentialError=%s" % raises(S.ExistentialError, lambda: S.remove_semaphore(sid)))
S.remove_semaphore(m.id)
out("remove_semaphore ok")
