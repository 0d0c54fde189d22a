package massstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berthdock/berth/agent/buffer"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Volume is a mounted mass-storage recorder. It is used by one slot
// session at a time.
type Volume struct {
	p      *Port
	dev    string // the resolved device node
	dir    string
	fstype string
	id     Identity
	files  map[uint64]numbered // by seq, from the last Inventory
}

type numbered struct {
	File
	sha [32]byte
}

// ErrChanged: a file on the recorder is not what the dock numbered and
// hashed (its size changed, or it hashes differently).
var ErrChanged = errors.New("massstore: file changed on the recorder")

// copyChunk is the unit of reading a file (ctx is checked between chunks).
const copyChunk = 1 << 20

func (v *Volume) Serial() string  { return v.id.Serial }
func (v *Volume) Officer() string { return v.id.Officer }
func (v *Volume) Model() string   { return v.id.Model }

// Keeps reports whether footage stays on the recorder after its receipt.
func (v *Volume) Keeps() bool { return v.p.o.Release != ReleaseDelete }

// Dir is where the volume is mounted.
func (v *Volume) Dir() string { return v.dir }

// Inventory lists the recordings and numbers them: a file the dock
// numbered before (same path, size and modification time) keeps its
// number and hash; a new one is hashed and gets the next number, in
// recording order. The numbering is made durable (Index) before it is
// returned. Entries of files gone from the recorder below the lowest
// number still on it are forgotten; a file gone above it stays a hole.
func (v *Volume) Inventory(ctx context.Context) ([]docklink.Segment, uint64, error) {
	files, err := Scan(v.dir, v.p.o.Location)
	if err != nil {
		return nil, 0, err
	}
	ix, err := v.p.ix.VolumeIndex(v.id.Serial)
	if err != nil {
		return nil, 0, err
	}
	type ident struct {
		path string
		size int64
		ns   int64
	}
	known := map[ident]buffer.VolumeFile{}
	for _, f := range ix.Files {
		known[ident{f.Path, f.Size, f.ModTime.UnixNano()}] = f
	}
	next := max(ix.Next, 1)
	v.files = map[uint64]numbered{}
	kept := map[uint64]buffer.VolumeFile{}
	for _, f := range files {
		n := numbered{File: f}
		vf, ok := known[ident{f.Path, f.Size, f.ModTime.UnixNano()}]
		if ok {
			if b, err := hex.DecodeString(vf.SHA256); err == nil && len(b) == 32 {
				copy(n.sha[:], b)
			} else {
				ok = false // a damaged entry: number the file again
			}
		}
		if !ok {
			if n.sha, err = v.hash(ctx, f); err != nil {
				return nil, 0, err
			}
			vf = buffer.VolumeFile{Path: f.Path, Size: f.Size, ModTime: f.ModTime, Seq: next, SHA256: hex.EncodeToString(n.sha[:])}
			next++
		}
		v.files[vf.Seq] = n
		kept[vf.Seq] = vf
	}
	lowest := uint64(0)
	for seq := range kept {
		if lowest == 0 || seq < lowest {
			lowest = seq
		}
	}
	out := buffer.VolumeIndex{Next: next}
	for _, f := range ix.Files {
		if _, on := kept[f.Seq]; !on && lowest != 0 && f.Seq > lowest {
			out.Files = append(out.Files, f) // gone above the lowest: keep it, the hole shows
		}
	}
	for _, f := range kept {
		out.Files = append(out.Files, f)
	}
	if err := v.p.ix.SetVolumeIndex(v.id.Serial, out); err != nil {
		return nil, 0, err
	}
	segs := make([]docklink.Segment, 0, len(v.files))
	for seq, f := range v.files {
		segs = append(segs, docklink.Segment{Seq: seq, Start: f.Start, End: f.End, Size: uint64(f.Size), SHA256: f.sha,
			StopCause: docklink.StopUnknown, Officer: v.id.Officer})
	}
	inferSplits(segs)
	sortSegs(segs)
	return segs, next - 1, nil
}

// inferSplits marks a file whose successor starts where it ends (within
// the recording rules' split tolerance) as an automatic split: a recorder
// that cuts a long recording into files. Every other stop stays unknown,
// as nothing on the volume says why the recording stopped.
func inferSplits(segs []docklink.Segment) {
	byStart := slices.Clone(segs)
	slices.SortStableFunc(byStart, func(a, b docklink.Segment) int { return cmp.Compare(a.Seq, b.Seq) })
	slices.SortStableFunc(byStart, func(a, b docklink.Segment) int { return a.Start.Compare(b.Start) })
	split := map[uint64]bool{}
	p := rules.DefaultPolicy()
	for i := 1; i < len(byStart); i++ {
		if p.Joins(wire.StopAutoSplit, byStart[i].Start.Sub(byStart[i-1].End)) {
			split[byStart[i-1].Seq] = true
		}
	}
	for i := range segs {
		if split[segs[i].Seq] {
			segs[i].StopCause = docklink.StopAutoSplit
		}
	}
}

// hash reads a whole file once (the first of its two reads).
func (v *Volume) hash(ctx context.Context, f File) ([32]byte, error) {
	var sum [32]byte
	fh, err := os.Open(v.path(f.Path))
	if err != nil {
		return sum, fmt.Errorf("massstore: hash %s: %w", f.Path, err)
	}
	defer fh.Close()
	h := sha256.New()
	n, err := copyCtx(ctx, h, fh)
	if err != nil {
		return sum, fmt.Errorf("massstore: hash %s: %w", f.Path, err)
	}
	if n != f.Size {
		return sum, fmt.Errorf("%w: %s: %d bytes read, listed with %d", ErrChanged, f.Path, n, f.Size)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// ReadSegment copies the file numbered seg.Seq from offset into w (the
// second read; the buffer hashes it and compares with the first).
func (v *Volume) ReadSegment(ctx context.Context, seg docklink.Segment, offset int64, w io.Writer) (int64, error) {
	f, ok := v.files[seg.Seq]
	if !ok {
		return 0, fmt.Errorf("massstore: read seq %d: not listed", seg.Seq)
	}
	if offset < 0 || offset > f.Size {
		return 0, fmt.Errorf("massstore: read seq %d: offset %d outside 0..%d", seg.Seq, offset, f.Size)
	}
	fh, err := os.Open(v.path(f.Path))
	if err != nil {
		return 0, fmt.Errorf("massstore: read %s: %w", f.Path, err)
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err != nil || fi.Size() != f.Size {
		return 0, fmt.Errorf("%w: %s: size now %d, listed with %d (%v)", ErrChanged, f.Path, sizeOf(fi), f.Size, err)
	}
	n, err := copyCtx(ctx, w, io.NewSectionReader(fh, offset, f.Size-offset))
	if err == nil && n != f.Size-offset {
		err = fmt.Errorf("%w: %s: %d bytes read of %d", ErrChanged, f.Path, n, f.Size-offset)
	}
	if err != nil {
		return n, fmt.Errorf("massstore: read %s: %w", f.Path, err)
	}
	return n, nil
}

// Release deletes the file numbered seq (only with ReleaseDelete; the
// slot calls it only after the collector's receipt for exactly sha
// verified). The file must still hash to sha; the volume is read-write
// only for the delete.
func (v *Volume) Release(ctx context.Context, seq uint64, sha [32]byte) (err error) {
	if v.Keeps() {
		return fmt.Errorf("massstore: release seq %d: the policy keeps footage on the recorder", seq)
	}
	f, ok := v.files[seq]
	if !ok {
		return fmt.Errorf("massstore: release seq %d: not listed", seq)
	}
	if f.sha != sha {
		return fmt.Errorf("%w: release seq %d (%s): the receipt is for another hash", ErrChanged, seq, f.Path)
	}
	now, err := v.hash(ctx, f.File)
	if err != nil {
		return err
	}
	if now != sha {
		return fmt.Errorf("%w: %s hashes to %x since it was numbered; kept", ErrChanged, f.Path, now)
	}
	if err := remount(v.dev, v.dir, true); err != nil {
		return err
	}
	defer func() {
		if rerr := remount(v.dev, v.dir, false); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	p := v.path(f.Path)
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("massstore: delete %s: %w", f.Path, err)
	}
	if d, err := os.Open(filepath.Dir(p)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("massstore: sync after deleting %s: %w", f.Path, err)
		}
	}
	v.p.log.Info("deleted after its receipt", "serial", v.id.Serial, "seq", seq, "file", f.Path)
	return nil
}

// Describe is the manifest's media line: container, path, time source.
func (v *Volume) Describe(seq uint64) string {
	f, ok := v.files[seq]
	if !ok {
		return ""
	}
	d := fmt.Sprintf("%s %s (times from %s)", strings.TrimPrefix(strings.ToLower(filepath.Ext(f.Path)), "."), f.Path, f.From)
	if len(d) > 256 {
		d = d[:253] + "..."
	}
	return strings.ToValidUTF8(d, "?")
}

// Close unmounts the volume.
func (v *Volume) Close() error { return unmount(v.dir) }

func (v *Volume) path(rel string) string { return filepath.Join(v.dir, filepath.FromSlash(rel)) }

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

// copyCtx copies r to w in chunks, stopping when ctx ends.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, copyChunk)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			wk, werr := w.Write(buf[:k])
			n += int64(wk)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
