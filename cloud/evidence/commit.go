package evidence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Commit implements Store. In order: the staged bytes are re-read and their
// size and SHA-256 checked; the file is made read-only and synced; it is
// hard-linked to its object name (link fails rather than replace an
// existing object) and the object directory synced; only then is the
// staging area removed. If the object exists already it is re-verified and
// the staged copy dropped; if that existing object does not verify, the
// staging area is kept and the error is ErrCorrupt.
func (f *FS) Commit(ctx context.Context, id string, sha256hex string, size int64) (Object, error) {
	if err := ValidObjectID(sha256hex); err != nil {
		return Object{}, fmt.Errorf("evidence: commit %s: %w", id, err)
	}
	err := f.with(ctx, id, func(a *area) error {
		if err := f.load(id, a); err != nil {
			return err
		}
		if a.size != size || a.off != size {
			return fmt.Errorf("%w: staged %d of declared %d bytes, commit asks %d", ErrSizeMismatch, a.off, a.size, size)
		}
		data := f.stagingPath(id, dataFile)
		if err := verifyFile(ctx, data, sha256hex, size); err != nil {
			return err
		}
		if err := readOnlySynced(data); err != nil {
			return err
		}
		obj := f.objectPath(sha256hex)
		if err := mkdirSynced(filepath.Dir(obj)); err != nil {
			return err
		}
		err := os.Link(data, obj)
		switch {
		case errors.Is(err, fs.ErrExist):
			// The same content was committed before (or by a crashed
			// commit of this area): verify it, keep one copy.
			if verr := verifyFile(ctx, obj, sha256hex, size); verr != nil {
				f.log.Error("evidence: existing object does not verify; staging kept", "object", sha256hex,
					"staging", id, "err", verr)
				return fmt.Errorf("%w: existing object %s: %w", ErrCorrupt, sha256hex, verr)
			}
		case err != nil:
			return err
		}
		if err := syncDir(filepath.Dir(obj)); err != nil {
			return err
		}
		if err := os.RemoveAll(f.stagingPath(id)); err != nil {
			return err
		}
		f.forget(id, a)
		return syncDir(filepath.Join(f.root, stagingDir))
	})
	if err != nil {
		return Object{}, fmt.Errorf("evidence: commit %s: %w", id, err)
	}
	return f.Stat(ctx, sha256hex)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// mkdirSynced makes dir if it is missing and syncs its parent.
func mkdirSynced(dir string) error {
	err := os.Mkdir(dir, 0o750)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func writeSynced(path string, b []byte) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func truncateSynced(path string, size int64) error {
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := w.Truncate(size); err != nil {
		w.Close()
		return err
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func readOnlySynced(path string) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := r.Chmod(0o444); err != nil {
		r.Close()
		return err
	}
	if err := r.Sync(); err != nil {
		r.Close()
		return err
	}
	return r.Close()
}
