//go:build unix

package collector_test

import (
	"syscall"
	"time"
)

// tlCPUTime is the CPU time (user + system) used so far by this process
// and its reaped children (ffmpeg), so benchmarks can report a figure that
// does not depend on how busy the machine is.
func tlCPUTime() (time.Duration, bool) {
	var self, kids syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) != nil || syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids) != nil {
		return 0, false
	}
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime), true
}
