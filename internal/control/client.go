package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// NamespaceDir returns the directory of the current user's shared
// namespaces' sockets (and links to those given by path).
func NamespaceDir() string { return filepath.Join(Dir(), "ns") }

// validName is what a namespace name may be.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$`)

// Target is what `--ns` names: a shared namespace by name or socket path,
// or a running anonymous sandbox by the pid of its sembox process.
type Target struct {
	Socket string // the socket's path
	Name   string // the name as given (a name, a path or a pid)
	PID    int    // for an anonymous sandbox, its sembox pid; else 0
}

// ParseTarget resolves the argument of --ns: anything with a '/' is a
// socket path, a number is the pid of an anonymous sandbox (as `sembox
// ipcs` shows it), anything else the name of one of the user's shared
// namespaces.
func ParseTarget(arg string) (Target, error) {
	switch {
	case arg == "":
		return Target{}, errors.New("empty namespace name")
	case strings.Contains(arg, "/"):
		abs, err := filepath.Abs(arg)
		if err != nil {
			return Target{}, err
		}
		return Target{Socket: abs, Name: arg}, nil
	}
	if pid, err := strconv.Atoi(arg); err == nil {
		if pid <= 0 {
			return Target{}, fmt.Errorf("bad sandbox pid %q", arg)
		}
		return Target{Socket: filepath.Join(Dir(), arg+".sock"), Name: arg, PID: pid}, nil
	}
	if !validName.MatchString(arg) {
		return Target{}, fmt.Errorf("bad namespace name %q (letters, digits, '_', '.', '-'; a path needs a '/')", arg)
	}
	return Target{Socket: filepath.Join(NamespaceDir(), arg+".sock"), Name: arg}, nil
}

// PrivateDir creates dir (and its parent Dir()) with mode 0700 if needed
// and checks that it belongs to the caller and nobody else can enter it.
func PrivateDir(dir string) error {
	for _, d := range []string{Dir(), dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(d, &st); err != nil {
			return err
		}
		if int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("control: %s must be a directory of uid %d with mode 0700", d, os.Geteuid())
		}
	}
	return nil
}

// dialTimeout bounds a connection attempt and a request's round trip.
const dialTimeout = 10 * time.Second

// AskPath sends one request to the server listening on socket path.
func AskPath(path string, req Request) (*Response, error) {
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout))
	return roundTrip(c.(*net.UnixConn), req, nil)
}

// queryTimeout bounds each server's answer to a question asked of many
// servers at once (AskEach): one server that does not answer (stopped,
// or a half-dead one that still accepts connections) must not hold up
// the listing of the others.
var queryTimeout = 5 * time.Second // a variable for tests

// ErrNoAnswer is AskEach's error for a server that accepted the
// connection but did not answer in time.
var ErrNoAnswer = errors.New("no answer")

// Answer is one server's answer to AskEach.
type Answer struct {
	Path string    // the socket asked
	Resp *Response // nil if the server could not be asked
	Err  error
}

// AskEach sends req to every socket in paths at once and returns their
// answers in the order of paths, each within queryTimeout. It is meant
// for requests that change nothing (list, info, stat, members): a
// server that answers late has still been asked.
func AskEach(paths []string, req Request) []Answer {
	out := make([]Answer, len(paths))
	done := make(chan struct{})
	for i, path := range paths {
		go func() {
			defer func() { done <- struct{}{} }()
			out[i].Path = path
			c, err := net.DialTimeout("unix", path, queryTimeout)
			if err != nil {
				out[i].Err = err
				return
			}
			defer c.Close()
			uc := c.(*net.UnixConn)
			uc.SetDeadline(time.Now().Add(queryTimeout))
			out[i].Resp, out[i].Err = roundTripFrom(uc, progressReader{uc}, req, nil)
			if errors.Is(out[i].Err, os.ErrDeadlineExceeded) {
				out[i].Resp, out[i].Err = nil, fmt.Errorf("%w within %v (server stopped or busy)", ErrNoAnswer, queryTimeout)
			}
		}()
	}
	for range paths {
		<-done
	}
	return out
}

// Join asks the server on socket path to serve a new member: listener is
// its seccomp listener, trace (or -1) the file its trace goes to,
// procFUSE (or -1) the FUSE connection of its /proc views' mount path
// (launch.Setup). The server gets its own copies of the descriptors.
func Join(path string, listener, trace, procFUSE int, req Request) (*Response, error) {
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout))
	req.Op = "join"
	fds := []int{listener}
	if req.Trace = trace >= 0; req.Trace {
		fds = append(fds, trace)
	}
	if req.ProcFUSE = procFUSE >= 0; req.ProcFUSE {
		fds = append(fds, procFUSE)
	}
	return roundTrip(c.(*net.UnixConn), req, unix.UnixRights(fds...))
}

// progressReader reads a connection whose deadline moves queryTimeout
// ahead whenever data arrives: a large answer (a namespace of many
// sets, read by a client on a loaded machine) may take longer than
// queryTimeout as long as it keeps coming.
type progressReader struct{ c *net.UnixConn }

func (r progressReader) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	if n > 0 {
		r.c.SetReadDeadline(time.Now().Add(queryTimeout))
	}
	return n, err
}

func roundTrip(c *net.UnixConn, req Request, oob []byte) (*Response, error) {
	return roundTripFrom(c, c, req, oob)
}

// roundTripFrom writes req (with oob) to c and decodes the response
// from in, which reads c.
func roundTripFrom(c *net.UnixConn, in io.Reader, req Request, oob []byte) (*Response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	if _, _, err := c.WriteMsgUnix(b, oob, nil); err != nil {
		return nil, err
	}
	var resp Response
	if err := json.NewDecoder(in).Decode(&resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}

// Namespaces lists the sockets of the current user's shared namespaces
// (NamespaceDir), sorted by name; that of a namespace given by path is
// a link to it. A socket nobody listens on any more (its server was
// killed) is listed too.
func Namespaces() ([]Target, error) {
	entries, err := sockets(NamespaceDir())
	if err != nil {
		return nil, err
	}
	var out []Target
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sock")
		path := filepath.Join(NamespaceDir(), e.Name())
		t := Target{Socket: path, Name: name}
		if e.Type()&os.ModeSymlink != 0 {
			if dst, err := os.Readlink(path); err == nil {
				t.Name, t.Socket = dst, dst
			}
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ListenPath creates a server's socket at path with the given mode,
// replacing a stale socket (one nobody listens on).
// Precondition: the caller holds the namespace's start lock (see
// StartLock), so that no other server is being started at path.
func ListenPath(path string, mode os.FileMode) (*net.UnixListener, error) {
	if c, err := net.DialTimeout("unix", path, dialTimeout); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: a server is already listening", path)
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err == nil {
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		os.Remove(path)
	}
	// Bind under a private umask, then open it up to mode.
	old := unix.Umask(0o077)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, mode&0o777); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// StartLock takes the lock that serialises the starting of the server of
// the namespace whose socket is path (a file beside it), and returns the
// function that releases it.
func StartLock(path string) (func(), error) {
	fd, err := unix.Open(path+".lock", unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() { unix.Close(fd) }, nil
}
