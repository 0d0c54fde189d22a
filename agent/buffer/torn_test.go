package buffer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenAfterTornLogFiles reopens a buffer in which a killed dockd left
// zero-length badger log files (killed between creating or deleting a
// memtable WAL or a value-log file and sizing or unlinking it): the buffer
// opens, the empty files are gone, and the committed footage is intact.
// Without removeEmptyLogs badger's Open fails with "Create a new file".
func TestOpenAfterTornLogFiles(t *testing.T) {
	for _, name := range []string{"99990.mem", "999990.vlog"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			b := f.open(t)
			data := footage(3, 1<<20+777)
			put(t, b, meta("BWC-001", 1, data, t0, false), data)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			torn := filepath.Join(f.dir, name)
			if err := os.WriteFile(torn, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := Open(f.dir, &f.opts)
			if err != nil {
				t.Fatalf("Open with an empty %s: %v", name, err)
			}
			defer b.Close()
			if st, err := os.Stat(torn); err == nil && st.Size() == 0 {
				t.Errorf("%s still empty after Open", name)
			}
			if k, err := b.Lookup("BWC-001", 1); err != nil || k.Phase != PhaseBuffered {
				t.Fatalf("Lookup = %+v, %v; want buffered", k, err)
			}
			if got := readBack(t, b, "BWC-001", 1); !bytes.Equal(got, data) {
				t.Fatal("footage differs after reopening")
			}
		})
	}
}
