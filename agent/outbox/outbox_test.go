package outbox

import (
	"errors"
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

func openDB(t *testing.T, dir string) *badger.DB {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestPutPendingAckSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	b, err := New(db, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.Put(Message{ID: fmt.Sprintf("m%d", i), Topic: "berth/v1/docks/d1/audit", Payload: []byte{byte(i)}, QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Same id again: ignored, keeps its place.
	if err := b.Put(Message{ID: "m0", Topic: "other", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 5 {
		t.Fatalf("Len = %d, want 5", b.Len())
	}
	if err := b.Ack("m1", "m3", "never-put", "m1"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openDB(t, dir)
	defer db.Close()
	b, err = New(db, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 3 {
		t.Fatalf("Len after reopen = %d, want 3", b.Len())
	}
	got, err := b.Pending(10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	if fmt.Sprint(ids) != "[m0 m2 m4]" || got[0].Topic != "berth/v1/docks/d1/audit" {
		t.Fatalf("pending = %v (first topic %q), want [m0 m2 m4] in put order", ids, got[0].Topic)
	}
	// New puts go after the survivors.
	if err := b.Put(Message{ID: "m9", Topic: "t", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	got, _ = b.Pending(10)
	if got[len(got)-1].ID != "m9" {
		t.Fatalf("last = %s, want m9", got[len(got)-1].ID)
	}
	if got, _ := b.Pending(2); len(got) != 2 {
		t.Fatalf("Pending(2) gave %d", len(got))
	}
}

func TestPutRefusesBadMessages(t *testing.T) {
	db := openDB(t, t.TempDir())
	defer db.Close()
	b, _ := New(db, "")
	for name, m := range map[string]Message{
		"no id":    {Topic: "t"},
		"no topic": {ID: "x"},
		"huge":     {ID: "x", Topic: "t", Payload: make([]byte, MaxPayloadLen+1)},
		"bad qos":  {ID: "x", Topic: "t", QoS: 3},
		"long id":  {ID: string(make([]byte, MaxIDLen+1)), Topic: "t"},
	} {
		if err := b.Put(m); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: err = %v, want ErrBadMessage", name, err)
		}
	}
	if b.Len() != 0 {
		t.Fatalf("Len = %d after refused puts", b.Len())
	}
}

func TestPrefixesAreSeparate(t *testing.T) {
	db := openDB(t, t.TempDir())
	defer db.Close()
	a, _ := New(db, "a/")
	c, _ := New(db, "c/")
	a.Put(Message{ID: "1", Topic: "t"})
	if c.Len() != 0 {
		t.Fatal("outboxes with different prefixes share entries")
	}
	if p, _ := c.Pending(5); len(p) != 0 {
		t.Fatal("pending leaked across prefixes")
	}
}

func TestCorruptEntryIsQuarantinedNotBlocking(t *testing.T) {
	db := openDB(t, t.TempDir())
	defer db.Close()
	b, _ := New(db, "")
	b.Put(Message{ID: "a", Topic: "t"})
	b.Put(Message{ID: "b", Topic: "t"})
	// Damage the first entry on disk.
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(b.queueKey(0), []byte("{not json")) }); err != nil {
		t.Fatal(err)
	}
	got, err := b.Pending(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("pending %v, want only b behind the damaged entry", got)
	}
	if b.Quarantined() != 1 || b.Len() != 1 {
		t.Fatalf("quarantined %d, len %d", b.Quarantined(), b.Len())
	}
	if got, _ := b.Pending(10); len(got) != 1 {
		t.Fatalf("second pending %v", got)
	}
	var kept []byte
	db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(b.key(tagQuarantine, b.queueKey(0)[len(b.prefix)+1:]))
		if err == nil {
			kept, _ = item.ValueCopy(nil)
		}
		return nil
	})
	if string(kept) != "{not json" {
		t.Fatalf("quarantined bytes %q", kept)
	}
}
