package recsim

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// ErrState wraps a state file that cannot be read, does not parse, or
// does not belong to the recorder's footage (a release of a seq whose
// hash differs from the held segment's).
var ErrState = errors.New("recsim: bad state file")

// maxStateSize bounds a state file read.
const maxStateSize = 64 << 20

// stateDoc is the state file: what changed since the footage was loaded.
type stateDoc struct {
	Serial   string       `json:"serial"`
	Released []Release    `json:"released"`
	Events   []stateEvent `json:"events"` // added at run time (release, clock set, alarms)
	Firmware *stateFw     `json:"firmware,omitempty"`
}

// stateFw is the firmware the recorder runs and the last update's result
// (§17.6); a pending or partly received image is not kept here.
type stateFw struct {
	Running       string `json:"running"`
	Previous      string `json:"previous,omitempty"`
	Result        uint8  `json:"result,omitempty"`
	ResultVersion string `json:"result_version,omitempty"`
	Detail        string `json:"detail,omitempty"`
}

type stateEvent struct {
	Index  uint64    `json:"index"`
	Time   time.Time `json:"time"`
	Kind   uint8     `json:"kind"`
	Seq    uint64    `json:"seq,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// stateFile is where the state of serial lives in dir.
func stateFile(dir, serial string) string {
	return filepath.Join(dir, url.PathEscape(serial)+".state.json")
}

// StateFile returns the state file a recorder with serial uses in dir.
func StateFile(dir, serial string) string { return stateFile(dir, serial) }

// loadState applies the state file, if there is one.
func (r *Recorder) loadState() error {
	f, err := os.Open(r.state)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrState, r.state, err)
	}
	if len(b) > maxStateSize {
		return fmt.Errorf("%w: %s: above %d bytes", ErrState, r.state, maxStateSize)
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrState, r.state, err)
	}
	if doc.Serial != r.info.Serial {
		return fmt.Errorf("%w: %s belongs to %q, not %q", ErrState, r.state, doc.Serial, r.info.Serial)
	}
	for _, rel := range doc.Released {
		sum, err := hex.DecodeString(rel.SHA256)
		if err != nil || len(sum) != 32 {
			return fmt.Errorf("%w: %s: released seq %d: bad sha256", ErrState, r.state, rel.Seq)
		}
		if i := r.find(rel.Seq); i >= 0 {
			if [32]byte(sum) != r.segs[i].sha {
				return fmt.Errorf("%w: %s: released seq %d had sha256 %s, the footage has %x", ErrState, r.state, rel.Seq, rel.SHA256, r.segs[i].sha)
			}
			r.segs = slices.Delete(r.segs, i, i+1)
		}
		r.relBytes += rel.Size
		r.lastSeq = max(r.lastSeq, rel.Seq)
		r.released = append(r.released, rel)
	}
	if f := doc.Firmware; f != nil {
		res := docklink.FwResult(f.Result)
		if f.Running == "" || len(f.Running) > docklink.MaxString || len(f.Previous) > docklink.MaxString || !res.Valid() {
			return fmt.Errorf("%w: %s: bad firmware record", ErrState, r.state)
		}
		r.firmware, r.info.Firmware = f.Running, f.Running
		r.fw.previous, r.fw.result, r.fw.resultV, r.fw.detail = f.Previous, res, f.ResultVersion, f.Detail
	}
	next := uint64(len(r.events)) + 1
	if n := len(r.events); n > 0 {
		next = r.events[n-1].Index + 1
	}
	for _, e := range doc.Events {
		k := docklink.EventKind(e.Kind)
		if e.Index < next || !k.Valid() || len(e.Detail) > docklink.MaxString {
			return fmt.Errorf("%w: %s: event %d out of order or invalid", ErrState, r.state, e.Index)
		}
		next = e.Index + 1
		r.events = append(r.events, docklink.Event{Index: e.Index, Time: e.Time.UTC(), Kind: k, Seq: e.Seq, Detail: e.Detail})
	}
	return nil
}

// saveStateLocked writes the state file durably: a temporary file,
// fsync, rename over the old one, fsync of the directory. No-op in memory.
func (r *Recorder) saveStateLocked() error {
	if r.state == "" {
		return nil
	}
	doc := stateDoc{Serial: r.info.Serial, Released: r.released}
	if r.fw.reboots > 0 || r.fw.result != docklink.FwResultNone {
		doc.Firmware = &stateFw{Running: r.firmware, Previous: r.fw.previous, Result: uint8(r.fw.result),
			ResultVersion: r.fw.resultV, Detail: r.fw.detail}
	}
	for _, e := range r.events[r.runtime:] {
		doc.Events = append(doc.Events, stateEvent{Index: e.Index, Time: e.Time, Kind: uint8(e.Kind), Seq: e.Seq, Detail: e.Detail})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("recsim: encoding state: %w", err)
	}
	dir := filepath.Dir(r.state)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("recsim: state dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("recsim: state: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up on failure
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("recsim: writing state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("recsim: syncing state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("recsim: closing state: %w", err)
	}
	if err := os.Rename(tmp.Name(), r.state); err != nil {
		return fmt.Errorf("recsim: replacing state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("recsim: syncing state dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("recsim: syncing state dir: %w", err)
	}
	return nil
}
