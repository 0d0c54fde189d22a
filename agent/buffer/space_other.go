//go:build !(linux || darwin || freebsd)

package buffer

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// freeSpace has no figure here: the capacity alone limits the buffer.
func freeSpace(string) (int64, error) {
	return 0, errors.New("buffer: free space unknown on this system")
}

// dirUsage sums the file sizes in dir.
func dirUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}
