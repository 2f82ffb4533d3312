//go:build !linux

package pgsession

import "syscall"

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist; the
// keepalives still bound a dead peer.
func setUserTimeout(network, address string, c syscall.RawConn) error { return nil }
