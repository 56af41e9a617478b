//go:build !unix

package eval

import "os/exec"

// setProcessGroup does nothing here: the sandbox's limits need a Unix
// system, and NewSandbox's check fails without sh.
func setProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup kills cmd's process.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

func cpuLimitSignal(ee *exec.ExitError) bool { return false }
