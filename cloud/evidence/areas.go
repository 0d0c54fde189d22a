package evidence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StagingArea describes a staging area for quotas and sweeping.
type StagingArea struct {
	ID      string
	Size    int64     // declared size of the object being staged
	Meta    []byte    // the caller's metadata given to Begin
	Touched time.Time // last change (creation or append), by the filesystem's clock
}

// StagingAreas lists the staging areas (complete ones: an area still being
// created is skipped). Areas removed meanwhile are skipped too.
func (f *FS) StagingAreas(ctx context.Context) ([]StagingArea, error) {
	parent := filepath.Join(f.root, stagingDir)
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil, fmt.Errorf("evidence: staging areas: %w", err)
	}
	var out []StagingArea
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := e.Name()
		if !e.IsDir() || strings.HasPrefix(id, ".") || ValidStagingID(id) != nil {
			continue
		}
		m, err := os.ReadFile(f.stagingPath(id, metaFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("evidence: staging %s: %w", id, err)
		}
		if len(m) < metaHeader || len(m) > metaHeader+MaxMetaLen {
			return nil, fmt.Errorf("%w: staging %s meta file of %d bytes", ErrCorrupt, id, len(m))
		}
		a := StagingArea{ID: id, Size: int64(binary.BigEndian.Uint64(m)), Meta: m[metaHeader:]}
		for _, name := range []string{metaFile, dataFile, chunksFile} {
			if fi, err := os.Stat(f.stagingPath(id, name)); err == nil && fi.ModTime().After(a.Touched) {
				a.Touched = fi.ModTime()
			}
		}
		out = append(out, a)
	}
	return out, nil
}
