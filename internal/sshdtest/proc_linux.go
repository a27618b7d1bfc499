//go:build linux

package sshdtest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// sysProcAttrNetNS is sysProcAttr plus a parent-death signal: an sshd inside
// a test's network namespace is killed when the test process dies (even by
// a timeout panic that skips cleanups), not left running in a namespace
// nobody can name any more.
func sysProcAttrNetNS() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// children maps each live pid to its parent, read from /proc.
func parents() map[int]int {
	out := map[int]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		out[pid] = ppid
	}
	return out
}

// descendants lists every process below pid.
func descendants(pid int) []int {
	pp := parents()
	kids := map[int][]int{}
	for c, p := range pp {
		kids[p] = append(kids[p], c)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range kids[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// killTree freezes pid and its descendants (so nobody forks or gets
// re-parented mid-way), then SIGKILLs them all and pid's process group.
func killTree(pid int) {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	seen := map[int]bool{}
	for round := 0; round < 20; round++ {
		grew := false
		for _, d := range descendants(pid) {
			if !seen[d] {
				seen[d] = true
				grew = true
				_ = syscall.Kill(d, syscall.SIGSTOP)
			}
		}
		if !grew {
			break
		}
	}
	for d := range seen {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// termTree sends SIGTERM to pid's descendants and then to pid.
func termTree(pid int) {
	for _, d := range descendants(pid) {
		_ = syscall.Kill(d, syscall.SIGTERM)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
}
