//go:build unix

package hooks

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the hook in its own process group and makes
// cancellation kill the whole group, so that children the hook started
// (`sleep 60 &`, a pipeline) die with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
