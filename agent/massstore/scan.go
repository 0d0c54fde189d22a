package massstore

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// File is one recording on a volume.
type File struct {
	Path    string // slash-separated, relative to the volume's root
	Size    int64
	ModTime time.Time
	Start   time.Time // from the name, else the container, else ModTime
	End     time.Time // Start plus the container's duration
	From    string    // where Start came from: "name", "mp4" or "mtime"
}

// Extensions of the recordings a volume is searched for (case-blind).
var mediaExt = map[string]bool{".mp4": true, ".mov": true}

// maxFiles bounds the recordings listed on one volume.
const maxFiles = 100000

// ErrTooManyFiles: a volume lists more recordings than maxFiles.
var ErrTooManyFiles = errors.New("massstore: too many files on the volume")

// Scan lists the recordings under root, in recording order (start time,
// then path). Hidden entries (a leading dot) and symbolic links are
// skipped; loc is the recorder's time zone for times in names.
func Scan(root string, loc *time.Location) ([]File, error) {
	var out []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !mediaExt[strings.ToLower(filepath.Ext(p))] {
			return nil
		}
		if len(out) >= maxFiles {
			return fmt.Errorf("%w: more than %d", ErrTooManyFiles, maxFiles)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		f := File{Path: filepath.ToSlash(rel), Size: fi.Size(), ModTime: fi.ModTime().UTC()}
		f.times(p, loc)
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("massstore: scan %s: %w", root, err)
	}
	slices.SortFunc(out, func(a, b File) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Path, b.Path))
	})
	return out, nil
}

// times fills Start, End and From: the name first (the recorder wrote it
// from its clock when it opened the file), then the container's creation
// time, then the file's modification time; the container gives the
// duration.
func (f *File) times(p string, loc *time.Location) {
	var c Container
	if fh, err := os.Open(p); err == nil {
		c, _ = ContainerTimes(fh, f.Size) // a file without a readable header keeps its name or mtime
		fh.Close()
	}
	switch t, ok := NameTime(f.Path, loc); {
	case ok:
		f.Start, f.From = t.UTC(), "name"
	case !c.Created.IsZero():
		f.Start, f.From = c.Created.UTC(), "mp4"
	default:
		f.Start, f.From = f.ModTime, "mtime"
	}
	f.End = f.Start.Add(c.Duration)
}

// Identity is who a volume's recorder is.
type Identity struct {
	Serial  string
	Officer string
	Model   string
}

// maxIdentity bounds the identity file read.
const maxIdentity = 4096

// ReadIdentity reads the identity file name (relative to root): either one
// line, the serial, or "key=value" / "key: value" lines with serial (or
// device_id), officer (or police_id) and model. The serial must be a valid
// wire id; an officer that is not is dropped.
func ReadIdentity(root, name string) (Identity, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(path.Clean("/"+name))))
	if err != nil {
		return Identity{}, fmt.Errorf("massstore: identity file: %w", err)
	}
	defer f.Close()
	var id Identity
	sc := bufio.NewScanner(io.LimitReader(f, maxIdentity))
	lines := 0
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "[") {
			continue
		}
		lines++
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok {
			if lines == 1 {
				id.Serial = line
			}
			continue
		}
		switch v = strings.TrimSpace(v); strings.ToLower(strings.TrimSpace(k)) {
		case "serial", "device_id", "deviceid":
			id.Serial = v
		case "officer", "police_id", "policeid":
			id.Officer = v
		case "model":
			id.Model = v
		}
	}
	if err := sc.Err(); err != nil {
		return Identity{}, fmt.Errorf("massstore: identity file: %w", err)
	}
	if err := wire.ValidID(id.Serial); err != nil {
		return Identity{}, fmt.Errorf("massstore: identity file %s: serial: %w", name, err)
	}
	if wire.ValidID(id.Officer) != nil {
		id.Officer = ""
	}
	return id, nil
}

// usbSerial is the serial number of the USB device behind the block device
// dev (a by-path link is resolved): sysfs's serial attribute of the
// nearest USB ancestor.
func usbSerial(dev string) (string, error) {
	real, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return "", fmt.Errorf("massstore: usb serial: %w", err)
	}
	sys, err := filepath.EvalSymlinks(filepath.Join("/sys/class/block", filepath.Base(real)))
	if err != nil {
		return "", fmt.Errorf("massstore: usb serial of %s: %w", real, err)
	}
	for d := sys; d != "/" && d != "."; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "serial"))
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if err := wire.ValidID(s); err != nil {
			return "", fmt.Errorf("massstore: usb serial %q of %s: %w", s, real, err)
		}
		return s, nil
	}
	return "", fmt.Errorf("massstore: %s has no USB serial number", real)
}

func sortSegs(segs []docklink.Segment) {
	slices.SortFunc(segs, func(a, b docklink.Segment) int { return cmp.Compare(a.Seq, b.Seq) })
}
