//go:build linux

package conformance

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

var subreaper sync.Once

// becomeSubreaper makes the kit a child subreaper (PR_SET_CHILD_SUBREAPER):
// a descendant of a program the kit started that outlives its parent
// becomes the kit's child, not init's, so that the kit can end and reap
// it. It applies to the whole process, once.
func becomeSubreaper() {
	subreaper.Do(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
}

// endDescendants kills every process that carries token in its
// environment (the descendants of a program the kit started, its own
// group's and those that left it), reaps those that became the kit's
// children, and returns how many it killed. It repeats until none is
// left, so that a process forking as it dies is caught too.
func endDescendants(token string) int {
	want := []byte(procTokenVar + "=" + token + "\x00")
	me := os.Getpid()
	killed := 0
	for round := 0; round < 20; round++ {
		found := 0
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return killed
		}
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == me {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...)) {
				continue
			}
			found++
			parent := parentOf(pid)
			syscall.Kill(pid, syscall.SIGKILL)
			if parent == me {
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil) // reap it: the kit is its parent now
			}
		}
		killed += found
		if found == 0 {
			break
		}
	}
	return killed
}

// parentOf returns the parent PID of pid, or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// pfExiting is the flag of a process that has begun to exit
// (include/linux/sched.h): it is set before the process's files, its
// sockets among them, are closed.
const pfExiting = 0x4

// exiting reports whether the process has begun to exit, or has: its
// sockets may close before it is gone.
func (p *proc) exiting() bool {
	return p.ended() || pidExiting(p.cmd.Process.Pid)
}

// pidExiting reports whether process pid has begun to exit, or is a
// zombie.
func pidExiting(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 7 {
		return false
	}
	if f[0] == "Z" || f[0] == "X" {
		return true
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfExiting != 0
}

// owns reports whether process pid is the program the kit started or one
// of its descendants (it carries the program's token).
func (p *proc) owns(pid int) bool {
	if pid == p.cmd.Process.Pid {
		return true
	}
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00"+procTokenVar+"="+p.token+"\x00"))
}
