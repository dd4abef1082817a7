package semscript

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// How the C executors reach a machine
//
// The executors (c/semexec.c, c/multiexec.c) are embedded in the Go
// binary as source and compiled with the machine's C compiler on first
// use, into a cache directory keyed by a hash of the sources, the
// compiler's name and flags and GOOS/GOARCH (CachedExecutors; `sembox
// conform` uses os.UserCacheDir()/sembox). The alternative, prebuilt
// binaries for amd64 and arm64 embedded with go:embed, was rejected:
//
//   - `go install` runs no build step, so the binaries would have to be
//     committed to the repository: opaque blobs that can drift from the
//     C source they claim to be built from, rebuilt by hand (with an
//     aarch64 cross compiler and static C libraries) at every change;
//   - to run on any distribution, and under wrappers that see another
//     root file system, they would have to be static: about 800 KB each
//     with glibc, for every architecture, in every sembox binary, while
//     the two sources are 60 KB and only `sembox conform` needs them;
//   - other architectures (riscv64, ppc64le…) would get nothing, where a
//     compiler on the machine serves them all.
//
// The cost of compiling on use is that `sembox conform` needs a C
// compiler (cc, or $CC) with the Linux UAPI headers, once per version of
// the sources: the people who check a sandbox's conformance build
// sandboxes, and the kernel side of the check needs root on a Linux
// machine anyway. The compiled executors are dynamically linked against
// the machine's C library and stay at a host path, which a wrapper such
// as `runsc do` (host binaries over the host's root) or `sembox run` can
// run.

// Executors are the paths of the two compiled C executors.
type Executors struct {
	Single string // c/semexec.c: single-process scripts
	Multi  string // c/multiexec.c: multi-process scripts
}

// Compiler flags: the tests use strictFlags (a new warning is a bug to
// fix); executors compiled on a user's machine, perhaps by another
// compiler or version, do not fail on warnings.
var (
	strictFlags = []string{"-O2", "-Wall", "-Werror"}
	cacheFlags  = []string{"-O2", "-Wall"}
)

// compileExecutor writes both sources into dir (multiexec.c includes
// semexec.c) and compiles dir/NAME.c into dir/NAME with cc and flags.
func compileExecutor(dir, cc string, flags []string, name string) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, "semexec.c"), cSource, 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "multiexec.c"), multiSource, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	args := append(append([]string{}, flags...), "-o", bin, filepath.Join(dir, name+".c"))
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// BuildExecutors compiles both executors into dir with the C compiler cc
// ("" for $CC, or cc if it is not set).
func BuildExecutors(dir, cc string) (Executors, error) {
	cc = compilerName(cc)
	if _, err := exec.LookPath(cc); err != nil {
		return Executors{}, fmt.Errorf("no C compiler to build the executors (set CC): %w", err)
	}
	var e Executors
	var err error
	if e.Single, err = compileExecutor(dir, cc, cacheFlags, "semexec"); err != nil {
		return e, err
	}
	e.Multi, err = compileExecutor(dir, cc, cacheFlags, "multiexec")
	return e, err
}

func compilerName(cc string) string {
	if cc == "" {
		cc = os.Getenv("CC")
	}
	if cc == "" {
		cc = "cc"
	}
	return cc
}

// ExecutorsKey is the name of the cache directory of executors compiled
// by cc: a hash of both sources, the compiler's name, the flags and the
// platform.
func ExecutorsKey(cc string) string {
	h := sha256.New()
	for _, part := range [][]byte{cSource, multiSource, []byte(compilerName(cc)),
		[]byte(strings.Join(cacheFlags, " ")), []byte(runtime.GOOS + "/" + runtime.GOARCH)} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return "executors-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// DefaultCacheDir is where `sembox conform` keeps its compiled executors:
// os.UserCacheDir()/sembox.
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "sembox"), nil
}

// CachedExecutors returns the executors compiled by cc in
// cacheDir/ExecutorsKey(cc), compiling them there first if they are not
// there yet. Compilation happens in a temporary directory renamed into
// place, so that concurrent callers and an interrupted compilation never
// leave a half-built directory under the final name.
func CachedExecutors(cacheDir, cc string) (Executors, error) {
	dir := filepath.Join(cacheDir, ExecutorsKey(cc))
	e := Executors{Single: filepath.Join(dir, "semexec"), Multi: filepath.Join(dir, "multiexec")}
	if executable(e.Single) && executable(e.Multi) {
		return e, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return e, err
	}
	tmp, err := os.MkdirTemp(cacheDir, "tmp-executors-")
	if err != nil {
		return e, err
	}
	defer os.RemoveAll(tmp)
	if _, err := BuildExecutors(tmp, cc); err != nil {
		return e, err
	}
	// MkdirTemp made it 0700: a wrapper that runs the executors as
	// another user must be able to reach them.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return e, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if !executable(e.Single) || !executable(e.Multi) {
			// Not a concurrent caller's finished build: a leftover.
			if err2 := os.RemoveAll(dir); err2 != nil {
				return e, errors.Join(err, err2)
			}
			if err := os.Rename(tmp, dir); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
