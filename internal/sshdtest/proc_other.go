//go:build !linux

package sshdtest

import (
	"os"
	"syscall"
)

// Real-sshd tests are Linux-only (Require skips elsewhere); these keep the
// package building on every GOOS.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func sysProcAttrNetNS() *syscall.SysProcAttr { return nil }

func killTree(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func termTree(pid int) { killTree(pid) }

func parents() map[int]int { return nil }

func descendants(pid int) []int { return nil }
