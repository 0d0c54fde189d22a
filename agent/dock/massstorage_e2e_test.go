package dock_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthdock/berth/agent/dock"
	"github.com/berthdock/berth/agent/massstore"
	"github.com/berthdock/berth/cloud/testworld"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/board"
)

// needLoop skips unless this process can make a file system image and
// attach it to a loop device (root, /dev/loop-control, losetup, a file
// system the kernel mounts and its mkfs, ffmpeg for the clips), or fails
// when BERTH_REQUIRE_LOOP demands it. It returns the file system: vfat,
// as recorders use, when the kernel has it, else ext4.
func needLoop(t *testing.T) string {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		missing = append(missing, "/dev/loop-control")
	}
	fstype := ""
	if b, err := os.ReadFile("/proc/filesystems"); err == nil {
		for _, fs := range []string{"vfat", "ext4"} {
			if _, err := exec.LookPath("mkfs." + fs); err == nil && strings.Contains(string(b), "\t"+fs+"\n") {
				fstype = fs
				break
			}
		}
	}
	if fstype == "" {
		missing = append(missing, "vfat or ext4 in the kernel with its mkfs")
	}
	for _, tool := range []string{"losetup", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return fstype
	}
	if os.Getenv("BERTH_REQUIRE_LOOP") != "" {
		t.Fatalf("loop-mounted images need %v (BERTH_REQUIRE_LOOP is set)", missing)
	}
	t.Skipf("loop-mounted images need %v (set BERTH_REQUIRE_LOOP to require them)", missing)
	return ""
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// legacyClip makes a small real MP4 (H.264 test pattern and an AAC tone)
// of secs seconds whose movie header says it was created at created.
func legacyClip(t *testing.T, dir string, secs int, created time.Time) []byte {
	t.Helper()
	out := filepath.Join(dir, "clip.mp4")
	d := strings.TrimSuffix(time.Duration(secs*int(time.Second)).String(), "s")
	run(t, "ffmpeg", "-y", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=duration="+d+":size=160x120:rate=15", "-f", "lavfi", "-i", "sine=frequency=440:duration="+d,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
		"-metadata", "creation_time="+created.UTC().Format(time.RFC3339), out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// legacyVolume is a recorder's volume in an image file on a loop device,
// reached through a by-path style link as the board file names it.
type legacyVolume struct {
	dev    string // /dev/loopN
	link   string // the board file's path: a link to dev
	fstype string
}

// newLegacyVolume makes a 64 MiB image of fstype (FAT32 or ext4) holding
// files (path -> bytes), attaches it to a loop device and links it as a
// by-path name would.
func newLegacyVolume(t *testing.T, fstype string, files map[string][]byte) *legacyVolume {
	t.Helper()
	dir := t.TempDir()
	img := filepath.Join(dir, "recorder.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	if fstype == "vfat" {
		run(t, "mkfs.vfat", "-F", "32", "-n", "RECORDER", img)
	} else {
		run(t, "mkfs."+fstype, "-q", "-F", "-L", "RECORDER", img)
	}
	v := &legacyVolume{dev: run(t, "losetup", "--find", "--show", img), fstype: fstype}
	t.Cleanup(func() { exec.Command("losetup", "-d", v.dev).Run() })
	v.edit(t, func(root string) {
		for p, b := range files {
			full := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	v.link = filepath.Join(dir, "by-path", "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-scsi-0:0:0:0")
	if err := os.MkdirAll(filepath.Dir(v.link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(v.dev, v.link); err != nil {
		t.Fatal(err)
	}
	return v
}

// edit mounts the volume read-write (as the recorder would write it) for f.
func (v *legacyVolume) edit(t *testing.T, f func(root string)) {
	t.Helper()
	mnt := t.TempDir()
	if err := unix.Mount(v.dev, mnt, v.fstype, 0, ""); err != nil {
		t.Fatalf("mount %s: %v", v.dev, err)
	}
	defer func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	}()
	f(mnt)
}

// contents reads every regular file on the volume (path -> bytes).
func (v *legacyVolume) contents(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	v.edit(t, func(root string) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	return out
}

// mountOptions is the mount options of dir as /proc/self/mountinfo lists them.
func mountOptions(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) > 5 && fs[4] == dir {
			return fs[5]
		}
	}
	return ""
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A legacy recorder presenting as USB mass storage, docked in a slot whose
// board file entry names its port's block device: its volume (a FAT32
// image on a loop device, with a vendor's dated folders, GA/T 947 names
// and a name without a time) goes through the dock's one pipeline:
// mounted read-only, each file numbered and hashed at the dock, copied
// into the buffer and checked, uploaded to the collector with receipts,
// its times marked as the files' (less trustworthy). The footage stays on
// the recorder by default; with delete-after-receipt each file is deleted
// after its receipt, and the identity file stays.
func TestMassStorageEndToEnd(t *testing.T) {
	fstype := needLoop(t)
	t.Logf("recorder volumes are %s images", fstype)
	for _, policy := range []string{massstore.ReleaseKeep, massstore.ReleaseDelete} {
		t.Run(policy, func(t *testing.T) { massStorageEndToEnd(t, fstype, policy) })
	}
}

func massStorageEndToEnd(t *testing.T, fstype, policy string) {
	ctx := context.Background()
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 4, 0, 0, 0, 0, sh)
	tmp := t.TempDir()
	serial := "LEGACY-" + randHex(3)
	// Each clip's movie header is stamped a minute off its name (the
	// name wins); FILE0005 has no time in its name (its header's counts).
	at := func(h, m, s int) time.Time {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	type clip struct {
		path  string
		start time.Time
		from  string
	}
	clips := []clip{
		{"Record/2026-12-04/083015_0001.mp4", at(8, 30, 15), "name"},
		{"Record/2026-12-04/084520_0002.mp4", at(8, 45, 20), "name"},
		{"DCIM/100MEDIA/DSJ0042_20261204101500_0003.MP4", at(10, 15, 0), "name"},
		{"DCIM/100MEDIA/FILE0005.MP4", at(11, 2, 3), "mp4"},
		{"Record/2026-12-04/091000_0004.mp4", at(9, 10, 0), "name"},
	}
	files := map[string][]byte{
		"DEVICE.TXT":               []byte("[device]\nserial=" + serial + "\npolice_id=o-2001\nmodel=DSJ-X1\n"),
		"LOG/SYSTEM.LOG":           []byte("boot 2026-12-04 08:00:01\n"),
		".Trashes/083015_0009.mp4": []byte("not footage"),
	}
	var blob = map[string][]byte{}
	for i, c := range clips {
		created := c.start
		if c.from == "name" {
			created = created.Add(time.Minute)
		}
		b := legacyClip(t, tmp, 2+i%2, created)
		files[c.path], blob[c.path] = b, b
	}
	vol := newLegacyVolume(t, fstype, files)
	mountDir := filepath.Join(tmp, "media")

	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := testworld.Start(ctx, testworld.Config{Dir: t.TempDir(), Log: log, Unit: "unit-legacy", Version: "e2e",
		Storage: []board.StorageSpec{{Path: vol.link, FSTypes: []string{fstype}}},
		Dock: func(dc *dock.Config) {
			dc.MassStorage = dock.MassStorage{Release: policy, IdentityFile: "DEVICE.TXT", TimeZone: "Asia/Shanghai",
				MountDir: mountDir, Wait: 10 * time.Second}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := w.Sys.Board.Sim().Insert(0); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitSettled(ctx, 90*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	st, _ := w.Sys.Dock.Slots()[0].State()
	if st.State != wire.SlotReleased || st.Serial != serial || st.Segments != len(clips) || st.Released != len(clips) {
		t.Fatalf("slot %+v, want %s released with %d segments", st, serial, len(clips))
	}
	// While docked the volume is mounted read-only, and nothing on it runs.
	slotDir := filepath.Join(mountDir, "slot-0")
	opts := mountOptions(t, slotDir)
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !strings.Contains(","+opts+",", ","+o+",") {
			t.Errorf("%s mounted with %q, want %s", slotDir, opts, o)
		}
	}

	// The collector holds each file, numbered in recording order, its
	// bytes exact in the evidence store under a receipt, its times from
	// the file and marked so.
	segs, err := w.Col.Store().Segments(ctx, serial, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != len(clips) {
		t.Fatalf("collector holds %d segments of %s, want %d", len(segs), serial, len(clips))
	}
	order := []int{0, 1, 4, 2, 3} // by start time
	for i, g := range segs {
		c := clips[order[i]]
		if g.Seq != uint64(i+1) || !g.Start.Equal(c.start) {
			t.Errorf("segment %d: seq %d start %s, want seq %d start %s (%s)", i, g.Seq, g.Start, i+1, c.start.UTC(), c.path)
		}
		if d := g.End.Sub(g.Start); d < 1900*time.Millisecond || d > 3100*time.Millisecond {
			t.Errorf("%s: %s long, want the clip's 2-3 s from its movie header", c.path, d)
		}
		if g.TimeSource != wire.TimeSourceFile {
			t.Errorf("%s: time source %q, want %q", c.path, g.TimeSource, wire.TimeSourceFile)
		}
		if !strings.Contains(g.Media, c.path) || !strings.Contains(g.Media, "times from "+c.from) {
			t.Errorf("%s: media %q", c.path, g.Media)
		}
		if g.Officer != "o-2001" || g.State != wire.SegReleased || g.SHA256 != sha(blob[c.path]) || g.Computed != g.SHA256 {
			t.Errorf("%s: officer %q state %q sha256 %s computed %s", c.path, g.Officer, g.State, g.SHA256, g.Computed)
		}
		if g.Receipt == nil || g.Receipt.SHA256 != sha(blob[c.path]) || g.Receipt.Size != int64(len(blob[c.path])) {
			t.Fatalf("%s: receipt %+v", c.path, g.Receipt)
		}
		obj, err := w.Col.Evidence().Open(ctx, g.Receipt.ObjectID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, blob[c.path]) {
			t.Errorf("%s: evidence object %s holds %d bytes (%v), not the file's %d", c.path, g.Receipt.ObjectID, len(got), err, len(blob[c.path]))
		}
	}
	// Every release (a delete, with the policy) came after its receipt.
	recs, err := w.Col.Store().AuditRecords(ctx, w.DockCfg.Dock, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	uploaded, released := map[uint64]uint64{}, map[uint64]uint64{}
	mounted := false
	for _, r := range recs {
		switch {
		case r.Record.Action == wire.AuditUploaded && r.Record.Serial == serial:
			uploaded[r.Record.Seq] = r.Record.Index
		case r.Record.Action == wire.AuditReleased && r.Record.Serial == serial:
			released[r.Record.Seq] = r.Record.Index
			if kept := strings.Contains(r.Record.Detail, "left on the recorder"); kept != (policy == massstore.ReleaseKeep) {
				t.Errorf("seq %d released with %q under policy %s", r.Record.Seq, r.Record.Detail, policy)
			}
		case r.Record.Action == wire.AuditMounted && r.Record.Serial == serial:
			mounted = true
		}
	}
	if !mounted {
		t.Error("no audit record of the mount")
	}
	for seq := uint64(1); seq <= uint64(len(clips)); seq++ {
		u, okU := uploaded[seq]
		r, okR := released[seq]
		if !okU || !okR || r < u {
			t.Errorf("seq %d: uploaded at audit %d (%v), released at %d (%v): a release must follow its receipt", seq, u, okU, r, okR)
		}
	}

	// Taken out: the volume is unmounted, and holds its footage unless the
	// policy deleted it.
	if err := w.Sys.Board.Sim().Remove(0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for mountOptions(t, slotDir) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("%s still mounted after the recorder was taken out", slotDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	left := vol.contents(t)
	if string(left["DEVICE.TXT"]) != string(files["DEVICE.TXT"]) || len(left["LOG/SYSTEM.LOG"]) == 0 {
		t.Errorf("the recorder's other files changed: %d files left", len(left))
	}
	for _, c := range clips {
		b, on := left[c.path]
		switch {
		case policy == massstore.ReleaseKeep && (!on || !bytes.Equal(b, blob[c.path])):
			t.Errorf("%s: not left on the recorder as it was (present %v)", c.path, on)
		case policy == massstore.ReleaseDelete && on:
			t.Errorf("%s: still on the recorder after its receipt with policy %s", c.path, policy)
		}
	}
	if policy != massstore.ReleaseKeep {
		return
	}

	// Docked again with one new recording: the files already ingested
	// keep their numbers and are not copied again; the new one is number 6.
	next := clip{"Record/2026-12-04/120000_0006.mp4", at(12, 0, 0), "name"}
	blob[next.path] = legacyClip(t, tmp, 2, next.start)
	vol.edit(t, func(root string) {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(next.path)), blob[next.path], 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if err := w.Sys.Board.Sim().Insert(0); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(90 * time.Second)
	for {
		st, _ = w.Sys.Dock.Slots()[0].State()
		if st.State == wire.SlotReleased && w.Settled(ctx) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second docking not settled: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Released counts what this docking let go: the new file only.
	if st.Segments != len(clips)+1 || st.Uploaded != len(clips)+1 || st.Released != 1 {
		t.Errorf("second docking: slot %+v, want %d segments uploaded, the new one released", st, len(clips)+1)
	}
	segs, err = w.Col.Store().Segments(ctx, serial, time.Time{}, time.Time{})
	if err != nil || len(segs) != len(clips)+1 {
		t.Fatalf("after the second docking the collector holds %d segments (%v), want %d", len(segs), err, len(clips)+1)
	}
	last := segs[len(segs)-1]
	if last.Seq != 6 || !last.Start.Equal(next.start) || last.Receipt == nil || last.Receipt.SHA256 != sha(blob[next.path]) {
		t.Errorf("new recording: %+v", last)
	}
	ups := 0
	recs, err = w.Col.Store().AuditRecords(ctx, w.DockCfg.Dock, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Record.Action == wire.AuditUploaded && r.Record.Serial == serial {
			ups++
		}
	}
	if ups != len(clips)+1 {
		t.Errorf("%d uploads over two dockings, want %d (each file once)", ups, len(clips)+1)
	}
}
