//go:build !amd64

package supervisor

// findRestartFrame is not implemented for this architecture: a restarted
// call is served as a new one.
func (w *worker) findRestartFrame(sp, pc, nr uint64) (uint64, bool) { return 0, false }

func (w *worker) deface(at uint64) {}
