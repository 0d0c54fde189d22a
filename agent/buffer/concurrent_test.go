package buffer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// dockBuffer mirrors dock.Buffer (with dock.BufferStats as an alias of
// Stats), which the buffer cannot import: what a slot, the uploader and
// the dock use.
type dockBuffer interface {
	Lookup(serial string, seq uint64) (Known, error)
	Begin(m Meta) (Writer, error)
	MarkReleased(serial string, seq uint64) error
	PendingUpload(limit int) ([]Pending, error)
	Open(serial string, seq uint64) (io.ReaderAt, error)
	MarkUploaded(serial string, seq uint64, r wire.Receipt) error
	Manifest(serial string, seq uint64) (wire.SegmentManifest, error)
	Stats() Stats
	Run(ctx context.Context) error
}

var _ dockBuffer = (*Buffer)(nil)

// TestConcurrentSlotsAndUploader: four slots copy while an uploader drains
// the queue, receipts arrive, the slots release and Run reclaims.
func TestConcurrentSlotsAndUploader(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Add(1)
	go func() {
		defer run.Done()
		if err := b.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	const perSlot = 4
	data := map[string][]byte{}
	for s := range 4 {
		for q := range perSlot {
			data[fmt.Sprintf("S%d/%d", s, q+1)] = footage(uint64(100*s+q), 300000+s*70000+q*1000)
		}
	}
	var slots sync.WaitGroup
	for s := range 4 {
		slots.Add(1)
		go func() {
			defer slots.Done()
			serial := fmt.Sprintf("S%d", s)
			for q := range perSlot {
				d := data[fmt.Sprintf("%s/%d", serial, q+1)]
				w, err := b.Begin(meta(serial, uint64(q+1), d, t0, q == 2))
				if err != nil {
					t.Error(err)
					return
				}
				for off := 0; off < len(d); off += 50000 {
					if _, err := w.Write(d[off:min(off+50000, len(d))]); err != nil {
						t.Error(err)
						return
					}
				}
				if err := w.Commit(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	uploaded := 0
	for uploaded < 4*perSlot {
		p, err := b.PendingUpload(1)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			time.Sleep(time.Millisecond) // the slots are still copying
			continue
		}
		ra, err := b.Open(p[0].Serial, p[0].Seq)
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%s/%d", p[0].Serial, p[0].Seq)
		got, err := io.ReadAll(io.NewSectionReader(ra, 0, p[0].Size))
		if err != nil || !bytes.Equal(got, data[key]) {
			t.Fatalf("%s: read back differs (%v)", key, err)
		}
		if err := b.MarkUploaded(p[0].Serial, p[0].Seq, f.receipt(p[0].Serial, p[0].Seq, data[key])); err != nil {
			t.Fatal(err)
		}
		if err := b.MarkReleased(p[0].Serial, p[0].Seq); err != nil {
			t.Fatal(err)
		}
		uploaded++
	}
	slots.Wait()
	cancel()
	run.Wait()
	if _, err := b.Reclaim(); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.BacklogSegments != 0 {
		t.Fatalf("backlog %+v", st)
	}
	for s := range 4 {
		for q := range perSlot {
			if k, _ := b.Lookup(fmt.Sprintf("S%d", s), uint64(q+1)); k.Phase != PhaseReleased {
				t.Fatalf("S%d/%d is %v", s, q+1, k.Phase)
			}
			if h := b.held(fmt.Sprintf("S%d", s), uint64(q+1)); h != 0 {
				t.Fatalf("S%d/%d still holds %d bytes", s, q+1, h)
			}
		}
	}
}
