package buffer

import (
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// VolumeIndex is how the dock numbers a legacy mass-storage recorder's
// files (agent/massstore): such a recorder keeps no sequence numbers, so
// the dock assigns them, in file order, once per file, and keeps them here
// beside the footage. Next is the next number to assign (numbers are never
// reused); Files are the files numbered so far that the recorder may still
// hold.
type VolumeIndex struct {
	Next  uint64       `json:"next"`
	Files []VolumeFile `json:"files"`
}

// VolumeFile is one numbered file: its path on the volume, size and
// modification time (together, its identity), and the SHA-256 the dock
// computed when it first read it.
type VolumeFile struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
	Seq     uint64    `json:"seq"`
	SHA256  string    `json:"sha256"`
}

// volumeKey is "buffer/v/" serial: one per recorder.
func volumeKey(serial string) []byte {
	return append([]byte(Prefix+string(tagVolume)+"/"), serial...)
}

// VolumeIndex returns serial's file numbering; the zero index (Next 0) if
// it never docked here.
func (b *Buffer) VolumeIndex(serial string) (VolumeIndex, error) {
	if err := wire.ValidID(serial); err != nil {
		return VolumeIndex{}, fmt.Errorf("buffer: volume index: %w", err)
	}
	var ix VolumeIndex
	if _, err := b.readKept(volumeKey(serial), "volume index of "+serial, &ix); err != nil {
		return VolumeIndex{}, err
	}
	return ix, nil
}

// SetVolumeIndex durably records serial's file numbering (it returns once
// synced): a number is reported only after it is kept, so a crash never
// gives one file two numbers or one number two files.
func (b *Buffer) SetVolumeIndex(serial string, ix VolumeIndex) error {
	if err := wire.ValidID(serial); err != nil {
		return fmt.Errorf("buffer: volume index: %w", err)
	}
	return b.keep(volumeKey(serial), "volume index of "+serial, ix)
}
