package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkOutputPath makes sure a file the command will write at the end (a
// --report, a --prometheus textfile) can be written, before the command
// opens its first connection: a directory, a missing parent or a place the
// process may not write is a usage error (exit 2) while nothing has been
// touched yet. An existing FIFO or device is fine: it is written in place.
func checkOutputPath(flag, path string) error {
	if path == "" {
		return nil
	}
	real := path
	if r, err := filepath.EvalSymlinks(path); err == nil {
		real = r
	} else if !errors.Is(err, fs.ErrNotExist) {
		return usagef("%s %s: %v", flag, path, err)
	}
	fi, err := os.Stat(real)
	switch {
	case err == nil && fi.IsDir():
		return usagef("%s %s: is a directory; name a file", flag, path)
	case err == nil:
		if fi.Mode().IsRegular() {
			// A regular file is replaced through a temporary file next
			// to it, so its directory must be writable too.
			if err := writableDir(filepath.Dir(real)); err != nil {
				return usagef("%s %s: cannot write in %s: %v", flag, path, filepath.Dir(real), err)
			}
		}
		if err := syscall.Access(real, 2 /* W_OK */); err != nil {
			return usagef("%s %s: not writable: %v", flag, path, err)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return usagef("%s %s: %v", flag, path, err)
	}
	dir := filepath.Dir(real)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usagef("%s %s: directory %s does not exist", flag, path, dir)
	case err != nil:
		return usagef("%s %s: %v", flag, path, err)
	case !di.IsDir():
		return usagef("%s %s: %s is not a directory", flag, path, dir)
	}
	if err := writableDir(dir); err != nil {
		return usagef("%s %s: cannot create a file in %s: %v", flag, path, dir, err)
	}
	return nil
}

// writableDir reports whether the process may create files in dir.
func writableDir(dir string) error {
	return syscall.Access(dir, 2|1 /* W_OK|X_OK */)
}
