package control

import (
	"encoding/json"
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
