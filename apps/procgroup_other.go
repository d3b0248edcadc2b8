//go:build !unix

package apps

import (
	"os"
	"os/exec"
	"syscall"
)

// inGroup does nothing where there are no process groups.
func inGroup(*exec.Cmd) {}

// signalGroup kills the process pid alone where there are no process
// groups.
func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)
