//go:build unix

package eval

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts cmd's process in a process group of its own, so that
// killProcessGroup reaches the children it starts.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills cmd's process group.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// cpuLimitSignal reports whether the process died of RLIMIT_CPU (SIGXCPU,
// or SIGKILL at the hard limit).
func cpuLimitSignal(ee *exec.ExitError) bool {
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGXCPU
}
