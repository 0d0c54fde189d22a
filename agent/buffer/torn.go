package buffer

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// removeEmptyLogs deletes zero-length memtable WALs (*.mem) and value-log
// files (*.vlog) in dir before badger opens it.
//
// Badger leaves such a file when the process dies between creating a log
// file and sizing it, or while deleting one (ristretto's MmapFile.Delete
// truncates to 0, closes, then unlinks): dockd killed during the memtable
// flush that follows every start is enough. Badger v4 then refuses to open
// the directory with its internal z.NewFile sentinel ("Create a new file",
// dgraph-io/badger#2207, fix proposed in #2331), and a dock that cannot
// open its buffer copies nothing. A zero-length log holds no entries (a
// live one always starts with its 20-byte encryption header), so removing
// it loses nothing; each removal is logged.
func removeEmptyLogs(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("buffer: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("buffer: %w", err)
		}
		if info.Size() != 0 {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("buffer: remove empty badger log left by a crash: %w", err)
		}
		log.Warn("removed an empty badger log file left by a crash", "file", p)
	}
	return nil
}
