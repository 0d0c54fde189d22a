package audit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

func clock() func() time.Time {
	t := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestAppendReopenVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, "dock-1", clock())
	if err != nil {
		t.Fatal(err)
	}
	var recs []wire.AuditRecord
	for _, a := range []string{wire.AuditStarted, wire.AuditDocked, wire.AuditCopied} {
		r, err := l.Append(wire.AuditRecord{Action: a, Slot: 1, Serial: "R1"})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	l.Close()
	// The collector's check: every record links to the one before.
	for i := range recs {
		var prev *wire.AuditRecord
		if i > 0 {
			prev = &recs[i-1]
		}
		if err := recs[i].VerifyLink("dock-1", prev); err != nil {
			t.Fatal(err)
		}
	}
	l, err = Open(path, "dock-1", clock())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	last, ok := l.Last()
	if !ok || last.Index != 2 || last.Hash != recs[2].Hash {
		t.Fatalf("last after reopen: %+v", last)
	}
	r, err := l.Append(wire.AuditRecord{Action: wire.AuditReleased, Slot: 1, Serial: "R1", Seq: 4})
	if err != nil || r.Index != 3 || r.Prev != recs[2].Hash {
		t.Fatalf("append after reopen: %+v %v", r, err)
	}
}

func TestTornTailIsCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, _ := Open(path, "dock-1", clock())
	l.Append(wire.AuditRecord{Action: wire.AuditStarted, Slot: -1})
	l.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"index":1,"time":"2026-11-2`) // power cut mid-write
	f.Close()
	l, err := Open(path, "dock-1", clock())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if last, _ := l.Last(); last.Index != 0 {
		t.Fatalf("last index %d, want 0", last.Index)
	}
	if r, err := l.Append(wire.AuditRecord{Action: wire.AuditDocked, Slot: 0}); err != nil || r.Index != 1 {
		t.Fatalf("append after cut: %+v %v", r, err)
	}
}

func TestEditedRecordIsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, _ := Open(path, "dock-1", clock())
	l.Append(wire.AuditRecord{Action: wire.AuditStarted, Slot: -1, Detail: "v1"})
	l.Append(wire.AuditRecord{Action: wire.AuditDocked, Slot: 0})
	l.Close()
	b, _ := os.ReadFile(path)
	edited := []byte(string(b))
	for i := range edited {
		if string(edited[i:i+2]) == "v1" {
			edited[i+1] = '2'
			break
		}
	}
	os.WriteFile(path, edited, 0o640)
	if _, err := Open(path, "dock-1", clock()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("edited log opened: %v", err)
	}
}
