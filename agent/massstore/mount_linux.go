//go:build linux

package massstore

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// roFlags are the recorder volume's mount flags: read-only, and nothing on
// it is executed or taken as a device or a set-uid program.
const roFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// mount mounts dev on dir read-only with the first file system type of
// fstypes that the kernel accepts.
func mount(dev, dir string, fstypes []string) (string, error) {
	var errs []error
	for _, fs := range fstypes {
		err := unix.Mount(dev, dir, fs, roFlags, "")
		if err == nil {
			return fs, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", fs, err))
	}
	return "", fmt.Errorf("massstore: mount %s read-only on %s: %w", dev, dir, errors.Join(errs...))
}

// remount switches dir between read-only and read-write, keeping nosuid,
// nodev and noexec.
func remount(dev, dir string, writable bool) error {
	flags := uintptr(roFlags | unix.MS_REMOUNT)
	if writable {
		flags &^= unix.MS_RDONLY
	}
	if err := unix.Mount(dev, dir, "", flags, ""); err != nil {
		return fmt.Errorf("massstore: remount %s (writable %v): %w", dir, writable, err)
	}
	return nil
}

// unmount unmounts dir; a volume still busy (or whose device is already
// gone) is detached lazily.
func unmount(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		if err2 := unix.Unmount(dir, unix.MNT_DETACH); err2 != nil {
			return fmt.Errorf("massstore: unmount %s: %w", dir, errors.Join(err, err2))
		}
	}
	return nil
}

// readOnly reports whether dir is mounted read-only (statfs).
func readOnly(dir string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, fmt.Errorf("massstore: statfs %s: %w", dir, err)
	}
	return st.Flags&unix.ST_RDONLY != 0, nil
}
