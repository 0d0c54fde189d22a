package testworld

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// Original is one segment as its recorder held it before any dock saw it.
// SHA256 and Size are the test's own, computed from the bytes the recorder
// serves; Stated is the hash the recorder's inventory states (they differ
// only for a recorder made to lie about a hash).
type Original struct {
	Seq    uint64
	SHA256 string // hex, of the bytes
	Size   int64
	Stated string // hex, the recorder's own SHA-256 of the segment
}

// Originals maps a recorder's serial to what it held, by ascending seq.
type Originals map[string][]Original

// Capture reads every segment each recorder holds and hashes its bytes:
// the independent truth the evidence store is later compared with. Call it
// before docking (a released segment can no longer be read).
func Capture(recs []*recsim.Recorder) (Originals, error) {
	o := Originals{}
	for _, r := range recs {
		for _, g := range r.Segments() {
			ra, err := r.OpenSegment(g.Seq)
			if err != nil {
				return nil, fmt.Errorf("testworld: capture %s/%d: %w", r.Serial(), g.Seq, err)
			}
			h := sha256.New()
			n, err := io.Copy(h, io.NewSectionReader(ra, 0, int64(g.Size)))
			if c, ok := ra.(io.Closer); ok {
				c.Close()
			}
			if err != nil {
				return nil, fmt.Errorf("testworld: capture %s/%d: %w", r.Serial(), g.Seq, err)
			}
			if n != int64(g.Size) {
				return nil, fmt.Errorf("testworld: capture %s/%d: %d bytes, the inventory says %d", r.Serial(), g.Seq, n, g.Size)
			}
			o[r.Serial()] = append(o[r.Serial()], Original{Seq: g.Seq, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n,
				Stated: hex.EncodeToString(g.SHA256[:])})
		}
	}
	return o, nil
}

// Collector is what Check reads of the collector.
type Collector interface {
	Store() *store.Store
	Evidence() evidence.Store
	PublicKey() ed25519.PublicKey
}

// Tally is what Check found. The first six counts must be zero in every
// run; Problems says which segment each count came from.
type Tally struct {
	Lost                  int // neither on its recorder nor receipted with its object in the evidence store
	Altered               int // receipted or stored with other bytes, hash or size than the recorder's
	StoredTwice           int // more than one object or collector row for one segment or hash
	BadReceipts           int // a receipt in the collector's store that does not verify against its key
	ReleasedUnreceipted   int // freed by its recorder with no receipt for exactly its hash
	ReleasedBeforeReceipt int // freed by its recorder before the collector issued its receipt

	Segments, Released, Objects int
	Problems                    []string
}

// Zero reports whether nothing was lost, altered, stored twice, badly
// receipted or released without or before its receipt.
func (t Tally) Zero() bool {
	return t.Lost+t.Altered+t.StoredTwice+t.BadReceipts+t.ReleasedUnreceipted+t.ReleasedBeforeReceipt == 0
}

func (t Tally) String() string {
	return fmt.Sprintf("segments %d, released %d, evidence objects %d: lost %d, altered %d, stored twice %d, bad receipts %d, released without receipt %d, released before receipt %d",
		t.Segments, t.Released, t.Objects, t.Lost, t.Altered, t.StoredTwice, t.BadReceipts, t.ReleasedUnreceipted, t.ReleasedBeforeReceipt)
}

func (t *Tally) problem(n *int, format string, args ...any) {
	*n++
	t.Problems = append(t.Problems, fmt.Sprintf(format, args...))
}

// Check compares what the recorders held before docking (orig) with what
// the recorders, the collector's store and its evidence store hold now:
//
//   - every original segment is still on its recorder or receipted, and a
//     receipted one's evidence object holds exactly its original bytes
//     (SHA-256 of the stored bytes, computed here, against the hash of the
//     recorder's bytes computed at Capture);
//   - every receipt in the collector's store verifies against the
//     collector's public key and names exactly the original's hash and size;
//   - every release in a recorder's own release log names a receipted hash
//     and came after that receipt was issued: both are stamped from one
//     clock, the process's real clock that the recorders (recsim's default
//     Config.Clock) and the collector's upload server share in process;
//   - the evidence store's objects directory (objectsDir; on S3 the
//     bucket's object versions) holds each receipted hash once and nothing
//     else, and the collector lists each
//     segment once.
func Check(ctx context.Context, col Collector, objectsDir string, recs []*recsim.Recorder, orig Originals) (Tally, error) {
	var t Tally
	cs, ev, pub := col.Store(), col.Evidence(), col.PublicKey()
	hashes := map[string]bool{}
	for _, rec := range recs {
		serial := rec.Serial()
		held := map[uint64]bool{}
		for _, g := range rec.Segments() {
			held[g.Seq] = true
		}
		log := rec.ReleaseLog()
		t.Released += len(log)
		byseq := map[uint64]Original{}
		for _, g := range orig[serial] {
			t.Segments++
			byseq[g.Seq] = g
			rc, ok, err := cs.Receipt(ctx, serial, g.Seq)
			if err != nil {
				return t, err
			}
			if !ok {
				if !held[g.Seq] {
					t.problem(&t.Lost, "%s/%d: lost: neither on the recorder nor receipted", serial, g.Seq)
				}
				continue
			}
			if err := rc.Verify(pub, serial, g.Seq, g.SHA256, g.Size); err != nil {
				t.problem(&t.BadReceipts, "%s/%d: receipt: %v", serial, g.Seq, err)
			}
			if id, _, err := evidence.ParseRef(rc.ObjectID); err != nil || rc.SHA256 != g.SHA256 || rc.Size != g.Size || id != g.SHA256 {
				t.problem(&t.Altered, "%s/%d: receipt names object %s sha256 %s size %d; the recorder's bytes hash to %s, %d bytes",
					serial, g.Seq, rc.ObjectID, rc.SHA256, rc.Size, g.SHA256, g.Size)
				continue
			}
			sum, n, err := objectHash(ctx, ev, rc.ObjectID)
			if err != nil {
				if held[g.Seq] {
					t.problem(&t.Altered, "%s/%d: evidence object %s: %v", serial, g.Seq, rc.ObjectID, err)
				} else {
					t.problem(&t.Lost, "%s/%d: evidence object %s: %v", serial, g.Seq, rc.ObjectID, err)
				}
				continue
			}
			if sum != g.SHA256 || n != g.Size {
				t.problem(&t.Altered, "%s/%d: evidence object's bytes hash to %s, %d bytes; the recorder's to %s, %d bytes",
					serial, g.Seq, sum, n, g.SHA256, g.Size)
				continue
			}
			hashes[g.SHA256] = true
		}
		seen := map[uint64]bool{}
		for _, rel := range log {
			if seen[rel.Seq] {
				t.problem(&t.StoredTwice, "%s/%d: released twice", serial, rel.Seq)
			}
			seen[rel.Seq] = true
			g, known := byseq[rel.Seq]
			rc, ok, err := cs.Receipt(ctx, serial, rel.Seq)
			if err != nil {
				return t, err
			}
			switch {
			case !ok || !known || rc.SHA256 != g.SHA256 || rel.SHA256 != g.SHA256:
				t.problem(&t.ReleasedUnreceipted, "%s/%d released (sha256 %s) without a receipt for its hash (receipt %v: %s)",
					serial, rel.Seq, rel.SHA256, ok, rc.SHA256)
			case rel.At.IsZero():
				t.problem(&t.ReleasedBeforeReceipt, "%s/%d: the release log has no true time", serial, rel.Seq)
			case !rel.At.After(rc.StoredAt):
				t.problem(&t.ReleasedBeforeReceipt, "%s/%d released at %s, before its receipt was issued at %s",
					serial, rel.Seq, rel.At.UTC().Format(time.RFC3339Nano), rc.StoredAt.UTC().Format(time.RFC3339Nano))
			}
		}
		// One segment row per device/seq at the collector.
		segs, err := cs.Segments(ctx, serial, time.Time{}, time.Time{})
		if err != nil {
			return t, err
		}
		rows := map[uint64]bool{}
		for _, g := range segs {
			if rows[g.Seq] {
				t.problem(&t.StoredTwice, "%s/%d: the collector lists the segment twice", g.Serial, g.Seq)
			}
			rows[g.Seq] = true
		}
	}
	// One object per distinct hash: the objects directory holds exactly
	// the receipted hashes, each once.
	objects, err := storedObjects(ctx, ev, objectsDir)
	if err != nil {
		return t, err
	}
	for _, n := range objects {
		t.Objects += n
	}
	for _, name := range slices.Sorted(maps.Keys(objects)) {
		if n := objects[name]; n > 1 || !hashes[name] {
			t.problem(&t.StoredTwice, "evidence object %s: %d copies, receipted: %v", name, n, hashes[name])
		}
	}
	if t.Objects > len(hashes) {
		t.problem(&t.StoredTwice, "evidence holds %d objects for %d distinct receipted hashes", t.Objects, len(hashes))
	}
	return t, nil
}

// storedObjects counts the stored copies of each object: the versions of
// an S3 store that lists them, else the files under objectsDir.
func storedObjects(ctx context.Context, ev evidence.Store, objectsDir string) (map[string]int, error) {
	if v, ok := ev.(interface {
		ObjectVersions(context.Context) (map[string]int, error)
	}); ok {
		return v.ObjectVersions(ctx)
	}
	objects := map[string]int{}
	err := filepath.WalkDir(objectsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		objects[d.Name()]++
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return objects, nil
}

// objectHash streams an evidence object and hashes its bytes.
func objectHash(ctx context.Context, ev evidence.Store, id string) (string, int64, error) {
	obj, err := ev.Open(ctx, id)
	if err != nil {
		return "", 0, err
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
