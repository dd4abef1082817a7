package control

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sembox/sembox/abi"
	"github.com/sembox/sembox/sem"
)

// TestStatOp asks a served namespace for "stat" over its socket: the
// counters of a set with a call that waits now, JSON arrays never null.
func TestStatOp(t *testing.T) {
	path, srv := startServer(t)
	ns := srv.Namespace()
	tk := &sem.Task{PID: 7, Cred: &sem.Cred{}, Undo: new(sem.UndoList)}
	id, e := ns.Semget(tk, 0x1234, 2, abi.IPC_CREAT|0o600)
	if e != 0 {
		t.Fatal(e)
	}
	idle, _ := ns.Semget(tk, abi.IPC_PRIVATE, 1, 0o600)
	ns.Semtimedop(tk, id, []abi.Sembuf{{SemNum: 1, SemOp: 1}}, nil, nil)
	ns.Semtimedop(tk, id, []abi.Sembuf{{SemNum: 1, SemOp: -1}}, nil, nil)
	ns.Semtimedop(tk, id, []abi.Sembuf{{SemNum: 1, SemOp: -1, SemFlg: abi.IPC_NOWAIT}}, nil, nil)
	w := &sem.Waiter{Done: func(*sem.Waiter) {}}
	if blocked, _ := ns.Semtimedop(&sem.Task{PID: 8, Cred: &sem.Cred{}}, id, []abi.Sembuf{{SemNum: 0, SemOp: -1}}, nil, w); !blocked {
		t.Fatal("did not block")
	}
	defer ns.Cancel(w, sem.EINTR)

	r := send(t, path, []byte(`{"op":"stat"}`+"\n"))
	if r.Error != "" || r.Stats == nil {
		t.Fatalf("response %+v", r)
	}
	if raw, _ := json.Marshal(r.Stats); bytes.Contains(raw, []byte("null")) {
		t.Errorf("null in the stats: %s", raw)
	}
	st := r.Stats
	if len(st.Sets) != 2 || st.Sets[0].ID != id || st.Sets[0].Key != 0x1234 || st.Sets[1].ID != idle {
		t.Fatalf("sets %+v", st.Sets)
	}
	s := st.Sets[0]
	want := Counters{Calls: 4, PerformedAtOnce: 2, FailedAtOnce: 1, Blocked: 1, Performed: 2, Ops: 2,
		Wait: Wait{Buckets: make([]uint64, sem.NumWaitBuckets)}}
	if !equalJSON(s.Counters, want) {
		t.Errorf("counters %+v, want %+v", s.Counters, want)
	}
	if len(s.Waiters) != 1 || s.Waiters[0].PID != 8 || s.Waiters[0].Sem != 0 || s.Waiters[0].Op != -1 || s.Waiters[0].WaitedNs < 0 {
		t.Errorf("waiters %+v", s.Waiters)
	}
	if len(s.Sems) != 2 || s.Sems[0].Num != 1 || s.Sems[0].Ops != 2 || s.Sems[1].Num != 0 ||
		s.Sems[1].Ncount != 1 || len(s.Sems[1].Pids) != 1 || s.Sems[1].Pids[0] != 8 {
		t.Errorf("sems %+v", s.Sems)
	}
	if !equalJSON(st.Total, want) || len(st.BucketBoundsNs) != sem.NumWaitBuckets ||
		st.BucketBoundsNs[0] != 1000 || st.BucketBoundsNs[sem.NumWaitBuckets-1] != -1 {
		t.Errorf("total %+v, bounds %v", st.Total, st.BucketBoundsNs)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
