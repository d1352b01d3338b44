package frames

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill ffmpeg if the daemon dies without
// stopping it (SIGKILL, crash), so a restarted daemon does not find orphaned
// decoders still eating the CPU.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
