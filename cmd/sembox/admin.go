package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sembox/sembox/internal/control"
)

// adminTarget is the namespace selection shared by ipcs and ipcrm.
type adminTarget struct {
	sandbox int    // an anonymous sandbox's sembox pid
	ns      string // a shared namespace (name or path), or a pid
	// neither: every sandbox and shared namespace (ipcs) or the only one
	// (ipcrm)
}

// sockets returns the control sockets of the selected namespaces.
func (t *adminTarget) sockets() ([]string, error) {
	switch {
	case t.ns != "":
		tg, err := control.ParseTarget(t.ns)
		if err != nil {
			return nil, err
		}
		return []string{tg.Socket}, nil
	case t.sandbox != 0:
		return []string{filepath.Join(control.Dir(), strconv.Itoa(t.sandbox)+".sock")}, nil
	}
	pids, err := control.Sandboxes()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, pid := range pids {
		out = append(out, filepath.Join(control.Dir(), strconv.Itoa(pid)+".sock"))
	}
	nss, err := control.Namespaces()
	if err != nil {
		return nil, err
	}
	for _, n := range nss {
		out = append(out, n.Socket)
	}
	return out, nil
}

// describe names the namespace a response comes from.
func describe(r *control.Response) string {
	if r.Sandbox.Name != "" {
		return fmt.Sprintf("namespace %s (server %d)", r.Sandbox.Name, r.Sandbox.PID)
	}
	return fmt.Sprintf("sandbox %d: %s", r.Sandbox.PID, strings.Join(r.Sandbox.Command, " "))
}

// ipcs implements `sembox ipcs`, following util-linux's `ipcs -s`.
func ipcs(args []string, out io.Writer) int {
	var t adminTarget
	mode, id, asJSON := "list", int32(-1), false
	var format string // "", "c", "p", "t", "u"
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-s", "--semaphores", "-a", "--all":
		case "-l", "--limits":
			mode = "limits"
		case "-c", "--creator":
			format = "c"
		case "-p", "--pid":
			format = "p"
		case "-t", "--time":
			format = "t"
		case "-u", "--summary":
			format = "u"
		case "--json":
			asJSON = true
		case "--ns":
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "sembox ipcs: %s needs a value\n", a)
				return 2
			}
			t.ns = args[i+1]
			i++
		case "-i", "--id", "--sandbox":
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "sembox ipcs: %s needs a value\n", a)
				return 2
			}
			bitSize := 32 // an id is an int, as for util-linux's ipcs
			if a == "--sandbox" {
				bitSize = 0
			}
			n, err := strconv.ParseInt(args[i+1], 10, bitSize)
			if err != nil {
				fmt.Fprintf(os.Stderr, "sembox ipcs: bad number %q\n", args[i+1])
				return 2
			}
			i++
			if a == "--sandbox" {
				t.sandbox = int(n)
			} else {
				mode, id = "info", int32(n)
			}
		case "-h", "--help":
			fmt.Fprint(out, ipcsUsage)
			return 0
		default:
			fmt.Fprintf(os.Stderr, "sembox ipcs: unknown option %q\n%s", a, ipcsUsage)
			return 2
		}
	}
	socks, err := t.sockets()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox ipcs: %v\n", err)
		return 1
	}
	if len(socks) == 0 && !asJSON {
		fmt.Fprintln(os.Stderr, "sembox ipcs: no sandbox or shared namespace of yours is running")
	}
	req := control.Request{Op: "list"}
	if mode == "info" {
		req = control.Request{Op: "info", ID: id}
	}
	all := []*control.Response{} // [] rather than null in --json
	status := 0
	for _, a := range control.AskEach(socks, req) {
		sock, r, err := a.Path, a.Resp, a.Err
		if err != nil {
			if mode == "info" && len(socks) > 1 {
				continue // the id lives in another sandbox
			}
			fmt.Fprintf(os.Stderr, "sembox ipcs: %s: %v\n", sock, err)
			status = 1
			continue
		}
		all = append(all, r)
	}
	if mode == "info" && len(all) == 0 && status == 0 {
		fmt.Fprintf(os.Stderr, "sembox ipcs: id %d not found\n", id)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "   ")
		enc.Encode(map[string]any{"sandboxes": all})
		return status
	}
	for _, r := range all {
		fmt.Fprintf(out, "\n=== %s\n", describe(r))
		switch mode {
		case "limits":
			printLimits(out, r)
		case "info":
			printInfo(out, &r.Sets[0])
		default:
			printSets(out, r, format)
		}
	}
	return status
}

const ipcsUsage = `Usage: sembox ipcs [--sandbox PID | --ns NAME|PATH] [-s] [-c|-p|-t|-u] [-i ID] [-l] [--json]
Show the semaphore sets of your running sandboxes and shared namespaces
(all of them, or the sandbox whose sembox process is PID, or the shared
namespace NAME), in util-linux ipcs's formats.
`

func name(uid uint32, group bool) string {
	s := strconv.Itoa(int(uid))
	if group {
		if g, err := user.LookupGroupId(s); err == nil {
			return g.Name
		}
	} else if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return s
}

func ctimeString(t int64) string {
	if t == 0 {
		return "Not set"
	}
	return time.Unix(t, 0).Format("Mon Jan _2 15:04:05 2006")
}

func printSets(out io.Writer, r *control.Response, format string) {
	switch format {
	case "c":
		fmt.Fprintf(out, "\n------ Semaphore Arrays Creators/Owners --------\n")
		fmt.Fprintf(out, "%-10s %-10s %-10s %-10s %-10s %-10s\n", "semid", "perms", "cuid", "cgid", "uid", "gid")
		for _, s := range r.Sets {
			fmt.Fprintf(out, "%-10d %-10o %-10s %-10s %-10s %-10s\n", s.ID, s.Mode&0o777,
				name(s.CUID, false), name(s.CGID, true), name(s.UID, false), name(s.GID, true))
		}
	case "t":
		fmt.Fprintf(out, "\n------ Semaphore Operation/Change Times --------\n")
		fmt.Fprintf(out, "%-8s %-10s %-26.24s %-26.24s\n", "semid", "owner", "last-op", "last-changed")
		for _, s := range r.Sets {
			fmt.Fprintf(out, "%-8d %-10s  %-26.24s %-26.24s\n", s.ID, name(s.UID, false), ctimeString(s.Otime), ctimeString(s.Ctime))
		}
	case "p":
		fmt.Fprintf(out, "\n------ Semaphore Arrays --------\nsembox: no pid information for semaphores (as util-linux)\n")
	case "u":
		var nsems uint64
		for _, s := range r.Sets {
			nsems += s.Nsems
		}
		fmt.Fprintf(out, "\n------ Semaphore Status --------\nused arrays = %d\nallocated semaphores = %d\n", len(r.Sets), nsems)
	default:
		fmt.Fprintf(out, "\n------ Semaphore Arrays --------\n")
		fmt.Fprintf(out, "%-10s %-10s %-10s %-10s %-10s\n", "key", "semid", "owner", "perms", "nsems")
		for _, s := range r.Sets {
			fmt.Fprintf(out, "0x%08x %-10d %-10s %-10o %-10d\n", uint32(s.Key), s.ID, name(s.UID, false), s.Mode&0o777, s.Nsems)
		}
	}
	fmt.Fprintln(out)
}

func printLimits(out io.Writer, r *control.Response) {
	l := r.Limits
	fmt.Fprintf(out, "\n------ Semaphore Limits --------\n")
	fmt.Fprintf(out, "max number of arrays = %d\nmax semaphores per array = %d\n", l.SEMMNI, l.SEMMSL)
	fmt.Fprintf(out, "max semaphores system wide = %d\nmax ops per semop call = %d\n", l.SEMMNS, l.SEMOPM)
	fmt.Fprintf(out, "semaphore max value = 32767\n\n")
}

func printInfo(out io.Writer, s *control.Set) {
	fmt.Fprintf(out, "\nSemaphore Array semid=%d\n", s.ID)
	fmt.Fprintf(out, "uid=%d\t gid=%d\t cuid=%d\t cgid=%d\n", s.UID, s.GID, s.CUID, s.CGID)
	fmt.Fprintf(out, "mode=%#o, access_perms=%#o\n", s.Mode, s.Mode&0o777)
	fmt.Fprintf(out, "nsems = %d\n", s.Nsems)
	fmt.Fprintf(out, "otime = %-26.24s\n", ctimeString(s.Otime))
	fmt.Fprintf(out, "ctime = %-26.24s\n", ctimeString(s.Ctime))
	fmt.Fprintf(out, "%-10s %-10s %-10s %-10s %-10s %s\n", "semnum", "value", "ncount", "zcount", "pid", "adjustments")
	for _, m := range s.Sems {
		var adj []string
		for _, a := range m.Adjustments {
			adj = append(adj, fmt.Sprintf("%d:%+d", a.PID, a.Adj))
		}
		fmt.Fprintf(out, "%-10d %-10d %-10d %-10d %-10d %s\n", m.Num, m.Value, m.Ncount, m.Zcount, m.PID, strings.Join(adj, " "))
	}
	fmt.Fprintln(out)
}

// ipcrm implements `sembox ipcrm`, following util-linux's ipcrm for
// semaphores: -s ID, -S KEY, --all[=sem].
func ipcrm(args []string) int {
	var t adminTarget
	var reqs []control.Request
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := ""
		if a == "-s" || a == "--semaphore-id" || a == "-S" || a == "--semaphore-key" || a == "--sandbox" || a == "--ns" {
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "sembox ipcrm: %s needs a value\n", a)
				return 2
			}
			val = args[i+1]
			i++
		}
		switch a {
		case "--ns":
			t.ns = val
		case "--sandbox":
			n, err := strconv.Atoi(val)
			if err != nil {
				fmt.Fprintf(os.Stderr, "sembox ipcrm: bad pid %q\n", val)
				return 2
			}
			t.sandbox = n
		case "-s", "--semaphore-id":
			n, err := strconv.ParseInt(val, 0, 32)
			if err != nil {
				fmt.Fprintf(os.Stderr, "sembox ipcrm: bad id %q\n", val)
				return 2
			}
			reqs = append(reqs, control.Request{Op: "remove", ID: int32(n)})
		case "-S", "--semaphore-key":
			n, err := strconv.ParseUint(val, 0, 32)
			if err != nil || n == 0 {
				fmt.Fprintf(os.Stderr, "sembox ipcrm: bad key %q\n", val)
				return 2
			}
			reqs = append(reqs, control.Request{Op: "remove-key", Key: int32(uint32(n))})
		case "-a", "--all", "--all=sem":
			reqs = append(reqs, control.Request{Op: "remove-all"})
		default:
			fmt.Fprintf(os.Stderr, "sembox ipcrm: unknown option %q\nUsage: sembox ipcrm [--sandbox PID | --ns NAME|PATH] [-s ID] [-S KEY] [--all=sem]\n", a)
			return 2
		}
	}
	socks, err := t.sockets()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sembox ipcrm: %v\n", err)
		return 1
	}
	if len(socks) != 1 {
		fmt.Fprintf(os.Stderr, "sembox ipcrm: %d sandboxes or shared namespaces are running; choose one with --sandbox PID or --ns NAME\n", len(socks))
		return 1
	}
	status := 0
	for _, req := range reqs {
		if _, err := control.AskPath(socks[0], req); err != nil {
			what := fmt.Sprintf("id %d", req.ID)
			if req.Op == "remove-key" {
				what = fmt.Sprintf("key %#x", uint32(req.Key))
			}
			if req.Op == "remove-all" {
				what = "all"
			}
			fmt.Fprintf(os.Stderr, "sembox ipcrm: %s: %v\n", what, err)
			status = 1
		}
	}
	return status
}
