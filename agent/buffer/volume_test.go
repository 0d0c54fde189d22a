package buffer

import (
	"errors"
	"testing"
	"time"
)

func TestVolumeIndexSurvivesReopen(t *testing.T) {
	f := newFixture(t)
	b := f.open(t)
	if ix, err := b.VolumeIndex("L1"); err != nil || ix.Next != 0 || len(ix.Files) != 0 {
		t.Fatalf("fresh index %+v, %v", ix, err)
	}
	at := t0.Add(90 * time.Minute).Add(123 * time.Nanosecond)
	want := VolumeIndex{Next: 3, Files: []VolumeFile{{Path: "DCIM/100MEDIA/FILE0001.MP4", Size: 10, ModTime: at, Seq: 1, SHA256: "ab"},
		{Path: "DCIM/100MEDIA/FILE0002.MP4", Size: 20, ModTime: at, Seq: 2, SHA256: "cd"}}}
	if err := b.SetVolumeIndex("L1", want); err != nil {
		t.Fatal(err)
	}
	if err := b.SetVolumeIndex("L12", VolumeIndex{Next: 9}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetVolumeIndex("a/b", VolumeIndex{}); err == nil {
		t.Error("a bad serial was accepted")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.SetVolumeIndex("L1", VolumeIndex{}); !errors.Is(err, ErrClosed) {
		t.Errorf("set on a closed buffer: %v", err)
	}
	b = f.open(t)
	defer b.Close()
	ix, err := b.VolumeIndex("L1")
	if err != nil || ix.Next != 3 || len(ix.Files) != 2 {
		t.Fatalf("after reopen: %+v, %v", ix, err)
	}
	if ix.Files[1].Path != want.Files[1].Path || ix.Files[1].Seq != 2 || !ix.Files[1].ModTime.Equal(at) || ix.Files[1].SHA256 != "cd" {
		t.Errorf("file %+v, want %+v", ix.Files[1], want.Files[1])
	}
	if ix, _ := b.VolumeIndex("L12"); ix.Next != 9 {
		t.Errorf("L12's index %+v: serials must not share keys", ix)
	}
}
