package dock

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/berthdock/berth/agent/massstore"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/drivers/board"
)

// MassStorage configures the board's slots for legacy recorders that
// present as USB mass storage (board file storage:; agent/massstore).
type MassStorage struct {
	// Release is what happens to a file on the recorder once its receipt
	// verified: keep (the default: footage stays on the recorder) or
	// delete-after-receipt.
	Release string `yaml:"release"`
	// IdentityFile names the file on the volume that says which recorder
	// it is (its serial, and optionally officer and model); empty: the
	// USB serial number.
	IdentityFile string `yaml:"identity_file"`
	// TimeZone is the recorders' clock zone for the times in their file
	// names (IANA name, e.g. Asia/Shanghai; default UTC).
	TimeZone string `yaml:"time_zone"`
	// MountDir holds one mount point per slot (default /run/berth/media).
	MountDir string `yaml:"mount_dir"`
	// Wait bounds how long a docked recorder's volume may take to appear
	// (default 20s).
	Wait time.Duration `yaml:"wait"`
}

func (m MassStorage) check() error {
	if m.Release != "" && m.Release != massstore.ReleaseKeep && m.Release != massstore.ReleaseDelete {
		return fmt.Errorf("mass_storage.release: %q: want %s or %s", m.Release, massstore.ReleaseKeep, massstore.ReleaseDelete)
	}
	if m.TimeZone != "" {
		if _, err := time.LoadLocation(m.TimeZone); err != nil {
			return fmt.Errorf("mass_storage.time_zone: %w", err)
		}
	}
	if m.MountDir != "" && !filepath.IsAbs(m.MountDir) {
		return fmt.Errorf("mass_storage.mount_dir: %q is not absolute", m.MountDir)
	}
	if m.Wait < 0 {
		return fmt.Errorf("mass_storage.wait: negative")
	}
	return nil
}

// storageOf is the slot.Storage of a board slot of legacy recorders, nil
// for a DockLink slot.
func (m MassStorage) storageOf(bs *board.Slot, ix massstore.Index, log *slog.Logger) (slot.Storage, error) {
	spec, ok := bs.Storage()
	if !ok {
		return nil, nil
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("dock: %w", err)
	}
	loc := time.UTC
	if m.TimeZone != "" {
		loc, _ = time.LoadLocation(m.TimeZone) // checked above
	}
	dir := m.MountDir
	if dir == "" {
		dir = "/run/berth/media"
	}
	p, err := massstore.NewPort(spec.Path, ix, &massstore.Opts{MountDir: filepath.Join(dir, fmt.Sprintf("slot-%d", bs.Index)),
		FSTypes: spec.FSTypes, IdentityFile: m.IdentityFile, Location: loc, Release: m.Release, Wait: m.Wait}, log)
	if err != nil {
		return nil, fmt.Errorf("dock: slot %s: %w", bs.Name, err)
	}
	return storagePort{p}, nil
}

// storagePort adapts a massstore.Port to the slot's Storage.
type storagePort struct{ p *massstore.Port }

func (s storagePort) Attach(ctx context.Context) (slot.Volume, error) {
	v, err := s.p.Attach(ctx)
	if err != nil {
		return nil, err
	}
	return v, nil
}
