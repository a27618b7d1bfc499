//go:build !unix

package hooks

import "os/exec"

// setProcessGroup does nothing here: cancellation kills the hook's own
// process (exec's default), not its children.
func setProcessGroup(cmd *exec.Cmd) {}
