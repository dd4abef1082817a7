//go:build !amd64 && !arm64

package seccomp

// sembox knows the semaphore system call numbers of amd64 and arm64 only.
// Porting it means adding a sysnum_GOARCH.go file; until then, building
// fails here on purpose.
var _ = semaphoreSyscallNumbersAreUnknownForThisArchitecture
