//go:build unix

package apps

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// inGroup makes cmd lead a process group of its own, which every process
// it starts joins unless it leaves on purpose: signalling the group
// reaches them all.
func inGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to every process of the group pid leads; a group
// with no process left is os.ErrProcessDone.
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)
