//go:build !linux

package frames

import "os/exec"

// setProcAttr does nothing where there is no parent-death signal.
func setProcAttr(cmd *exec.Cmd) {}
