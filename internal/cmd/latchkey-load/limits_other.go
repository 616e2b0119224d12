//go:build !unix

package main

import "errors"

// openFileLimit reports that this system's open-file limit is not known, so the sockets scenario does not
// check it.
func openFileLimit() (uint64, error) { return 0, errors.ErrUnsupported }
