package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sembox/sembox/internal/image"
	"github.com/sembox/sembox/internal/server"
	"github.com/sembox/sembox/sem"
)

// openState returns the namespace to serve: restored from the image in
// path if the file exists (its limits must then agree with limits, if
// given), else a new one with limits. path "" means no state file.
func openState(path string, clock sem.Clock, limits *sem.Limits) (*sem.Namespace, error) {
	if path != "" {
		img, err := image.ReadFile(path)
		switch {
		case err == nil:
			if limits != nil && *limits != img.Limits {
				l := img.Limits
				return nil, fmt.Errorf("--limits differ from those saved in %s (\"%d %d %d %d\")", path, l.SEMMSL, l.SEMMNS, l.SEMOPM, l.SEMMNI)
			}
			ns, err := sem.NewNamespaceFromImage(img, clock)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return ns, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, err // names the file and the problem
		}
	}
	ns := sem.NewNamespace(clock)
	if limits != nil {
		if e := ns.SetLimits(*limits); e != 0 {
			return nil, fmt.Errorf("--limits: %v", e)
		}
	}
	return ns, nil
}

// saveState writes the server's image to path atomically.
func saveState(srv *server.Server, path string) error {
	img, _ := srv.Image()
	return image.WriteFile(path, img)
}

// absPath makes a state file's path absolute: a server resolves it in
// its own working directory (/).
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}

// saveEvery saves the server's image to path every d until stop is
// closed, reporting failures to report.
func saveEvery(srv *server.Server, path string, d time.Duration, stop <-chan struct{}, report func(error)) {
	if d <= 0 || path == "" {
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := saveState(srv, path); err != nil {
				report(err)
			}
		case <-stop:
			return
		}
	}
}
