//go:build linux || darwin || freebsd

package buffer

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
)

// freeSpace is the space an unprivileged process may still use on dir's
// file system.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// dirUsage is the space dir's files take on disk (allocated blocks, as du
// counts them: badger's preallocated, sparse files count as written).
func dirUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile (a compaction)
		} else if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile (a compaction)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += int64(st.Blocks) * 512
		} else {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}
