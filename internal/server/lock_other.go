//go:build !unix && !windows

package server

import "os"

// lockFile does nothing where there is no file lock to take (such as wasm): a second server on the same
// data_dir is not refused there.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
