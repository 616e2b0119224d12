//go:build unix

package main

import "syscall"

// openFileLimit raises this process's soft limit on open files to its hard limit and returns the soft
// limit in force afterwards. Go's os package already raises it at start on most systems; doing it here too
// keeps the sockets scenario's check true wherever the tool runs.
func openFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		raised := l
		raised.Cur = l.Max
		// Some systems refuse an unlimited soft limit; the limit then stays as it was.
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			l = raised
		}
	}
	return uint64(l.Cur), nil
}
