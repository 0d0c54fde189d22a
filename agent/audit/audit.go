// Package audit is the dock's hash-chained, append-only record of what it
// did: docked, authenticated, clock set, copied, verified, uploaded,
// released, faults, commands and configuration changes. Each record carries
// the hash of the one before (wire.AuditRecord), so the collector, which
// receives every record through the outbox, can prove none was removed,
// reordered or edited.
//
// The log is a file of JSON lines, written with O_APPEND and fsynced before
// Append returns. A file suits an append-only log better than the buffer's
// key-value store: it is readable with standard tools on a dock pulled for
// inspection, and a torn last line after a power cut is detected by its
// failing to parse or verify, and cut off at Open (it was never shipped: the
// caller ships a record only after Append returned).
package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/berthdock/berth/cloud/wire"
)

// ErrCorrupt reports a log whose chain does not verify before its last line.
var ErrCorrupt = errors.New("audit: log corrupt")

// Log is an open audit log.
type Log struct {
	dock string
	now  func() time.Time

	mu   sync.Mutex
	f    *os.File
	last *wire.AuditRecord
}

// Open opens or creates the log at path for dock, verifies its chain, and
// cuts a torn last line. now is the clock records are stamped with.
func Open(path, dock string, now func() time.Time) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	l := &Log{dock: dock, now: now, f: f}
	good, err := l.scan()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: cut torn tail: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: seek: %w", err)
	}
	return l, nil
}

// scan verifies the chain and returns the length of the verified prefix. Only
// the last line may be bad (a torn write); a bad line before it is ErrCorrupt.
func (l *Log) scan() (int64, error) {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("audit: seek: %w", err)
	}
	r := bufio.NewReader(l.f)
	var good int64
	var prev *wire.AuditRecord
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("audit: read: %w", err)
		}
		var rec wire.AuditRecord
		bad := !bytes.HasSuffix(line, []byte("\n")) || json.Unmarshal(line, &rec) != nil || rec.VerifyLink(l.dock, prev) != nil
		if bad {
			rest, _ := io.ReadAll(r)
			if len(bytes.TrimSpace(rest)) > 0 {
				return 0, fmt.Errorf("%w: record after index %d does not verify and is not the last line", ErrCorrupt, indexOf(prev))
			}
			break
		}
		good += int64(len(line))
		prev = &rec
	}
	l.last = prev
	return good, nil
}

func indexOf(r *wire.AuditRecord) int64 {
	if r == nil {
		return -1
	}
	return int64(r.Index)
}

// Append seals rec after the last record, writes it and syncs the file. Only
// Action, Slot, Serial, Seq, Detail and Proof are taken from rec.
func (l *Log) Append(rec wire.AuditRecord) (wire.AuditRecord, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return wire.AuditRecord{}, errors.New("audit: log closed")
	}
	rec.Time = l.now().UTC()
	if err := rec.Seal(l.dock, l.last); err != nil {
		return wire.AuditRecord{}, fmt.Errorf("audit: seal: %w", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return wire.AuditRecord{}, fmt.Errorf("audit: encode: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return wire.AuditRecord{}, fmt.Errorf("audit: write: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return wire.AuditRecord{}, fmt.Errorf("audit: sync: %w", err)
	}
	l.last = &rec
	return rec, nil
}

// Last returns the newest record. After a restart the caller ships it again
// (the outbox drops a duplicate id), since a crash may have come between
// Append and shipping.
func (l *Log) Last() (wire.AuditRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		return wire.AuditRecord{}, false
	}
	return *l.last, true
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
