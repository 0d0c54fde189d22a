//go:build !linux

package massstore

import "errors"

// errNotLinux: mounting a recorder's volume needs Linux's mount(2).
var errNotLinux = errors.New("massstore: mass-storage recorders are mounted on Linux only")

func mount(dev, dir string, fstypes []string) (string, error) { return "", errNotLinux }
func remount(dev, dir string, writable bool) error            { return errNotLinux }
func unmount(dir string) error                                { return errNotLinux }
func readOnly(dir string) (bool, error)                       { return false, errNotLinux }
