package massstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/agent/buffer"
)

// Release policies: what happens to a file on the recorder once the
// collector's receipt for it verified.
const (
	ReleaseKeep   = "keep"                 // left on the recorder (the default)
	ReleaseDelete = "delete-after-receipt" // deleted, if it still hashes to the receipted bytes
)

// Opts configures a Port.
type Opts struct {
	// MountDir is where the volume is mounted (created 0700 if missing).
	MountDir string
	// FSTypes are tried in order (default vfat, exfat, ext4).
	FSTypes []string
	// IdentityFile is the file on the volume naming the recorder
	// (ReadIdentity); "" takes the USB serial number.
	IdentityFile string
	// Location is the recorders' time zone for times in file names
	// (default UTC).
	Location *time.Location
	// Release is ReleaseKeep (default) or ReleaseDelete.
	Release string
	// Wait bounds how long Attach waits for the device node to appear
	// after the recorder is docked (default 20 s), polling every Poll
	// (default 250 ms).
	Wait, Poll time.Duration
	// Clock waits (nil: the real clock).
	Clock clockwork.Clock
}

func (o *Opts) defaults() {
	if len(o.FSTypes) == 0 {
		o.FSTypes = []string{"vfat", "exfat", "ext4"}
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Release == "" {
		o.Release = ReleaseKeep
	}
	if o.Wait <= 0 {
		o.Wait = 20 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Index keeps the dock's numbering of each recorder's files;
// *buffer.Buffer implements it.
type Index interface {
	VolumeIndex(serial string) (buffer.VolumeIndex, error)
	SetVolumeIndex(serial string, ix buffer.VolumeIndex) error
}

// Port is a slot's USB port for mass-storage recorders.
type Port struct {
	dev string
	o   Opts
	ix  Index
	log *slog.Logger
}

// ErrNoDevice: no volume appeared on the port within Opts.Wait.
var ErrNoDevice = errors.New("massstore: no volume on the port")

// NewPort makes the port whose recorders' volume appears as the block
// device dev (its udev by-path link).
func NewPort(dev string, ix Index, opts *Opts, log *slog.Logger) (*Port, error) {
	o := Opts{}
	if opts != nil {
		o = *opts
	}
	o.defaults()
	switch {
	case dev == "" || !filepath.IsAbs(dev):
		return nil, fmt.Errorf("massstore: device %q: want an absolute path (a /dev/disk/by-path link)", dev)
	case o.MountDir == "" || !filepath.IsAbs(o.MountDir):
		return nil, fmt.Errorf("massstore: mount dir %q: want an absolute path", o.MountDir)
	case o.Release != ReleaseKeep && o.Release != ReleaseDelete:
		return nil, fmt.Errorf("massstore: release policy %q: want %s or %s", o.Release, ReleaseKeep, ReleaseDelete)
	case ix == nil:
		return nil, errors.New("massstore: an index (the buffer) is required")
	}
	return &Port{dev: dev, o: o, ix: ix, log: log.With("port", dev)}, nil
}

func (p *Port) String() string { return "mass storage " + p.dev }

// Attach waits for the recorder's volume, mounts it read-only (ro, nosuid,
// nodev, noexec), checks that it is read-only, and reads who the recorder
// is. Close the Volume to unmount it.
func (p *Port) Attach(ctx context.Context) (*Volume, error) {
	dev, err := p.waitDevice(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(p.o.MountDir, 0o700); err != nil {
		return nil, fmt.Errorf("massstore: mount dir: %w", err)
	}
	fs, err := mount(dev, p.o.MountDir, p.o.FSTypes)
	if err != nil {
		return nil, err
	}
	v := &Volume{p: p, dev: dev, dir: p.o.MountDir, fstype: fs}
	if ro, err := readOnly(v.dir); err != nil || !ro {
		return nil, errors.Join(fmt.Errorf("massstore: %s is not mounted read-only (%v)", v.dir, err), unmount(v.dir))
	}
	if p.o.IdentityFile != "" {
		v.id, err = ReadIdentity(v.dir, p.o.IdentityFile)
	} else {
		v.id.Serial, err = usbSerial(dev)
	}
	if err != nil {
		return nil, errors.Join(err, unmount(v.dir))
	}
	p.log.Info("mass-storage recorder mounted read-only", "device", dev, "fs", fs, "serial", v.id.Serial)
	return v, nil
}

// waitDevice waits for the port's device node and resolves its by-path link.
func (p *Port) waitDevice(ctx context.Context) (string, error) {
	deadline := p.o.Clock.Now().Add(p.o.Wait)
	for {
		real, err := filepath.EvalSymlinks(p.dev)
		if err == nil {
			fi, err := os.Stat(real)
			if err == nil && fi.Mode()&os.ModeDevice != 0 {
				return real, nil
			}
			if err == nil {
				return "", fmt.Errorf("massstore: %s (%s) is not a block device", p.dev, real)
			}
		}
		if p.o.Clock.Now().After(deadline) {
			return "", fmt.Errorf("%w: %s within %s: %v", ErrNoDevice, p.dev, p.o.Wait, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-p.o.Clock.After(p.o.Poll):
		}
	}
}
