package control

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sembox/sembox/internal/server"
	"github.com/sembox/sembox/sem"
)

// startServer serves a fresh namespace on a socket in a temp dir.
func startServer(t *testing.T) (string, *server.Server) {
	t.Helper()
	ns := sem.NewNamespace(sem.SystemClock{})
	srv := server.New(ns, sem.SystemClock{})
	path := filepath.Join(t.TempDir(), "ns.sock")
	ln, err := ListenPath(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go Serve(ln, &Backend{Namespace: ns, Server: srv, Adjustments: srv.Adjustments, Settle: srv.Settle})
	return path, srv
}

// send writes raw bytes (with fds, if any) and returns the response.
func send(t *testing.T, path string, raw []byte, fds ...int) Response {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.(*net.UnixConn).WriteMsgUnix(raw, oob, nil); err != nil {
		t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite()
	var r Response
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		t.Fatalf("%q: no response: %v", raw, err)
	}
	return r
}

// TestGarbageRefused: every malformed request gets an error response, the
// server goes on serving, and descriptors sent with a refused request do
// not stay open in the server.
func TestGarbageRefused(t *testing.T) {
	path, srv := startServer(t)
	for _, tc := range []struct {
		name string
		raw  string
		want string
	}{
		{"not json", "hello\n", "bad request"},
		{"no newline", `{"op":"list"}`, "bad request"},
		{"empty", "\n", "bad request"},
		{"two objects", `{"op":"list"}{"op":"list"}` + "\n", "bad request"},
		{"after newline", `{"op":"list"}` + "\nmore", "bad request"},
		{"unknown field", `{"op":"list","x":1}` + "\n", "bad request"},
		{"wrong type", `{"op":7}` + "\n", "bad request"},
		{"unknown op", `{"op":"frobnicate"}` + "\n", "unknown request"},
		{"too long", `{"op":"list","command":["` + strings.Repeat("a", MaxRequest) + `"]}` + "\n", "too long"},
		{"join without fd", `{"op":"join"}` + "\n", "0 descriptors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, path, []byte(tc.raw))
			if !strings.Contains(r.Error, tc.want) {
				t.Fatalf("error %q, want it to mention %q", r.Error, tc.want)
			}
		})
	}
	// A descriptor that is not a listener is refused and not kept.
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := openFDs(t)
	r := send(t, path, []byte(`{"op":"join"}`+"\n"), int(f.Fd()))
	if !strings.Contains(r.Error, "not a seccomp") {
		t.Fatalf("join with /dev/null: error %q", r.Error)
	}
	r = send(t, path, []byte(`{"op":"list"}`+"\n"), int(f.Fd()), int(f.Fd()), int(f.Fd()))
	if r.Error == "" {
		t.Fatalf("three descriptors accepted")
	}
	time.Sleep(50 * time.Millisecond)
	if after := openFDs(t); after > before {
		t.Fatalf("%d descriptors open after refused requests, %d before", after, before)
	}
	if len(srv.Members()) != 0 {
		t.Fatalf("members: %v", srv.Members())
	}
	// Still serving.
	if r := send(t, path, []byte(`{"op":"members"}`+"\n")); r.Error != "" {
		t.Fatalf("members: %v", r.Error)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// FuzzDecodeRequest: any line either decodes to a request or is refused;
// nothing panics.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"op":"list"}`, `{"op":"join","command":["a"],"limits":{"semmsl":1},"trace":true}`,
		`{"op":"info","id":-1}`, `{`, `[]`, `null`, `{"op":"remove-key","key":2147483648}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := DecodeRequest(line)
		if (req == nil) == (err == nil) {
			t.Fatalf("req %v, err %v", req, err)
		}
	})
}

// TestAskEachSilentServer: a server that accepts connections but never
// answers (stopped, or half dead) costs one queryTimeout, not one per
// server, and does not hide the answers of the others; a socket nobody
// listens on is an error at once.
func TestAskEachSilentServer(t *testing.T) {
	defer func(d time.Duration) { queryTimeout = d }(queryTimeout)
	queryTimeout = time.Second
	good, _ := startServer(t)
	dir := t.TempDir()
	var silent []string
	for i := 0; i < 3; i++ {
		path := filepath.Join(dir, "silent"+string(rune('a'+i))+".sock")
		ln, err := net.Listen("unix", path) // accepted by the kernel, never read
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		silent = append(silent, path)
	}
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	// A server whose answer keeps coming for longer than queryTimeout
	// (a large namespace read on a loaded machine) is waited for.
	slow := filepath.Join(dir, "slow.sock")
	sl, err := net.Listen("unix", slow)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	go func() {
		c, err := sl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		answer := []byte(`{"sandbox":{"pid":4242,"command":["slow"]},"semaphores":[]}` + "\n")
		step := queryTimeout / 2
		for len(answer) > 0 {
			time.Sleep(step)
			n := min(len(answer), 20)
			if _, err := c.Write(answer[:n]); err != nil {
				return
			}
			answer = answer[n:]
		}
	}()

	paths := append([]string{silent[0], good, stale, slow}, silent[1:]...)
	start := time.Now()
	answers := AskEach(paths, Request{Op: "members"})
	took := time.Since(start)
	if took > 3*queryTimeout+2*time.Second {
		t.Errorf("AskEach took %v with %d silent servers; want about the slow server's time (3 × %v)", took, len(silent), queryTimeout)
	}
	for i, a := range answers {
		if a.Path != paths[i] {
			t.Errorf("answer %d is for %s, want %s", i, a.Path, paths[i])
		}
	}
	if a := answers[1]; a.Err != nil || a.Resp == nil {
		t.Errorf("the answering server: %+v", a)
	}
	if a := answers[2]; a.Err == nil || errors.Is(a.Err, ErrNoAnswer) || a.Resp != nil {
		t.Errorf("the stale socket: want a connection error, got %+v", a)
	}
	if a := answers[3]; a.Err != nil || a.Resp == nil || a.Resp.Sandbox.PID != 4242 {
		t.Errorf("the slow server: want its whole answer, got %+v", a)
	}
	for _, i := range []int{0, 4, 5} {
		if a := answers[i]; !errors.Is(a.Err, ErrNoAnswer) || a.Resp != nil {
			t.Errorf("silent server %s: want ErrNoAnswer, got %+v", a.Path, a)
		}
	}
}

// TestMembersTotals: "members" counts the sets and semaphores instead of
// listing them.
func TestMembersTotals(t *testing.T) {
	ns := sem.NewNamespace(sem.SystemClock{})
	task := &sem.Task{PID: 1, Cred: &sem.Cred{}}
	for _, n := range []int32{3, 1, 7} {
		if _, e := ns.Semget(task, 0, n, 0o600); e != 0 {
			t.Fatal(e)
		}
	}
	r := (&Backend{Namespace: ns}).handle(&Request{Op: "members"})
	if r.Error != "" || r.Sets != nil || r.Totals == nil || *r.Totals != (Totals{Sets: 3, Semaphores: 11}) {
		t.Fatalf("members: error %q, %d sets listed, totals %+v; want 3 sets, 11 semaphores, 0 waiters, none listed", r.Error, len(r.Sets), r.Totals)
	}
}
