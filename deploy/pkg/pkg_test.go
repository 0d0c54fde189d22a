package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdock/berth/agent/localapi"
)

// The packages are built once (six cross-builds) for every test here.
var (
	debsOnce sync.Once
	debs     map[string]string // "berth-dockd_arm64" -> path
	debsErr  error
	debsDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if debsDir != "" {
		os.RemoveAll(debsDir)
	}
	os.Exit(code)
}

func packages(t *testing.T) map[string]string {
	t.Helper()
	debsOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			debsErr = err
			return
		}
		var paths []string
		if dir := os.Getenv("BERTH_PKG_DIR"); dir != "" {
			// Packages built already (go run ./deploy/pkg --version 1.2.3~test --out DIR).
			paths, debsErr = filepath.Glob(filepath.Join(dir, "*.deb"))
		} else {
			paths, debsErr = buildPackages(root)
		}
		if debsErr != nil {
			return
		}
		debs = map[string]string{}
		for _, p := range paths {
			m := regexp.MustCompile(`^(berth-[a-z]+)_1\.2\.3~test_([a-z0-9]+)\.deb$`).FindStringSubmatch(filepath.Base(p))
			if m == nil {
				debsErr = fmt.Errorf("unexpected package file name %s", p)
				return
			}
			debs[m[1]+"_"+m[2]] = p
		}
	})
	if debsErr != nil {
		t.Fatal(debsErr)
	}
	return debs
}

// buildPackages runs the packager as shipped (go run ./deploy/pkg), built
// without -race (compressing 60 MB under the race detector would take
// minutes), into a temporary directory.
func buildPackages(root string) ([]string, error) {
	var err error
	if debsDir, err = os.MkdirTemp("", "berth-debs-"); err != nil {
		return nil, err
	}
	began := time.Now()
	bin := filepath.Join(debsDir, "pkg")
	build := exec.Command(goTool(), "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./deploy/pkg: %v\n%s", err, out)
	}
	run := exec.Command(bin, "--out", debsDir, "--version", "1.2.3~test")
	run.Dir = root
	var stderr strings.Builder
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		return nil, fmt.Errorf("deploy/pkg: %v\n%s", err, stderr.String())
	}
	paths := strings.Fields(string(out))
	fmt.Fprintf(os.Stderr, "built %d packages in %s\n", len(paths), time.Since(began).Round(time.Millisecond))
	return paths, nil
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// dpkgDeb runs dpkg-deb; it skips without it unless BERTH_REQUIRE_DPKG.
func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		if os.Getenv("BERTH_REQUIRE_DPKG") == "" {
			t.Skip("no dpkg-deb (BERTH_REQUIRE_DPKG=1 demands it)")
		}
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// entry is one line of dpkg-deb -c.
type entry struct{ perm, owner string }

func contents(t *testing.T, deb string) map[string]entry {
	t.Helper()
	m := map[string]entry{}
	for _, l := range strings.Split(strings.TrimSpace(dpkgDeb(t, "-c", deb)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", l)
		}
		m[strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "."), "/")] = entry{f[0], f[1]}
	}
	return m
}

func TestPackagesContents(t *testing.T) {
	d := packages(t)
	type want struct {
		pkg, arch string
		machine   elf.Machine
		bins      []string
		unit      string
		files     map[string]entry
		conffiles []string
	}
	dockdFiles := map[string]entry{
		"/usr/bin/dockd":                             {"-rwxr-xr-x", "root/root"},
		"/usr/bin/dockctl":                           {"-rwxr-xr-x", "root/root"},
		"/lib/systemd/system/dockd.service":          {"-rw-r--r--", "root/root"},
		"/lib/udev/rules.d/99-berth-recorders.rules": {"-rw-r--r--", "root/root"},
		"/etc/berth":                                 {"drwxr-x---", "root/berth"},
		"/etc/berth/dockd.yaml":                      {"-rw-r-----", "root/berth"},
		"/var/lib/berth":                             {"drwxr-x---", "berth/berth"},
		"/usr/share/berth/boards/sim-4slot.yaml":     {"-rw-r--r--", "root/root"},
		"/usr/share/doc/berth-dockd/LEDS.md":         {"-rw-r--r--", "root/root"},
		"/usr/share/doc/berth-dockd/boards.md":       {"-rw-r--r--", "root/root"},
		// The mass-storage drop-in, shipped inactive (boards.md says how
		// to enable it).
		"/usr/share/berth/systemd/dockd-mass-storage.conf": {"-rw-r--r--", "root/root"},
	}
	colFiles := map[string]entry{
		"/usr/bin/berth-collector":                    {"-rwxr-xr-x", "root/root"},
		"/lib/systemd/system/berth-collector.service": {"-rw-r--r--", "root/root"},
		"/etc/berth":                                  {"drwxr-x---", "root/berth"},
		"/etc/berth/collector.yaml":                   {"-rw-r-----", "root/berth"},
		"/var/lib/berth-collector":                    {"drwxr-x---", "berth/berth"},
		"/usr/share/doc/berth-collector/examples/acl": {"-rw-r--r--", "root/root"},
	}
	wants := []want{
		{"berth-dockd", "arm64", elf.EM_AARCH64, []string{"/usr/bin/dockd", "/usr/bin/dockctl"}, "/lib/systemd/system/dockd.service", dockdFiles, []string{"/etc/berth/dockd.yaml"}},
		{"berth-dockd", "armhf", elf.EM_ARM, []string{"/usr/bin/dockd", "/usr/bin/dockctl"}, "/lib/systemd/system/dockd.service", dockdFiles, []string{"/etc/berth/dockd.yaml"}},
		{"berth-collector", "amd64", elf.EM_X86_64, []string{"/usr/bin/berth-collector"}, "/lib/systemd/system/berth-collector.service", colFiles, []string{"/etc/berth/collector.yaml"}},
		{"berth-collector", "arm64", elf.EM_AARCH64, []string{"/usr/bin/berth-collector"}, "/lib/systemd/system/berth-collector.service", colFiles, []string{"/etc/berth/collector.yaml"}},
	}
	if len(d) != len(wants) {
		t.Errorf("built %d packages (%v), want %d", len(d), d, len(wants))
	}
	for _, w := range wants {
		t.Run(w.pkg+"_"+w.arch, func(t *testing.T) {
			deb := d[w.pkg+"_"+w.arch]
			if deb == "" {
				t.Fatalf("no %s package for %s", w.pkg, w.arch)
			}
			fields := dpkgDeb(t, "-f", deb, "Package", "Architecture", "Version")
			for _, f := range []string{"Package: " + w.pkg, "Architecture: " + w.arch, "Version: 1.2.3~test"} {
				if !strings.Contains(fields, f) {
					t.Errorf("control fields %q lack %q", fields, f)
				}
			}
			got := contents(t, deb)
			for path, e := range w.files {
				if g, ok := got[path]; !ok {
					t.Errorf("%s is not in the package", path)
				} else if g != e {
					t.Errorf("%s: %s %s, want %s %s", path, g.perm, g.owner, e.perm, e.owner)
				}
			}

			// The control archive: conffiles and the four maintainer
			// scripts, executable and valid sh.
			ctl := t.TempDir()
			dpkgDeb(t, "-e", deb, ctl)
			cf, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
			for _, c := range w.conffiles {
				if !strings.Contains(string(cf), c+"\n") {
					t.Errorf("conffiles %q lack %s", cf, c)
				}
			}
			scripts := map[string]string{}
			for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
				p := filepath.Join(ctl, s)
				fi, err := os.Stat(p)
				if err != nil {
					t.Errorf("maintainer script %s: %v", s, err)
					continue
				}
				if fi.Mode().Perm()&0o111 != 0o111 {
					t.Errorf("maintainer script %s has mode %v", s, fi.Mode())
				}
				if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
					t.Errorf("sh -n %s: %v\n%s", s, err, out)
				}
				b, _ := os.ReadFile(p)
				scripts[s] = string(b)
			}
			for s, re := range map[string]string{
				"preinst":  `useradd --system --gid berth .*berth`,
				"postinst": `systemctl enable ` + regexp.QuoteMeta(filepath.Base(w.unit)),
				"prerm":    `systemctl stop ` + regexp.QuoteMeta(filepath.Base(w.unit)),
			} {
				if !regexp.MustCompile(re).MatchString(scripts[s]) {
					t.Errorf("%s does not match %q:\n%s", s, re, scripts[s])
				}
			}
			if !strings.Contains(scripts["postinst"], `chmod 0600 "$k"`) {
				t.Errorf("postinst does not make the key files 0600:\n%s", scripts["postinst"])
			}
			for s, body := range scripts {
				if regexp.MustCompile(`rm -[a-z]*r[a-z]* +/var/lib/berth`).MatchString(body) {
					t.Errorf("%s deletes the state directory (footage, store): %s", s, body)
				}
			}
			if w.pkg == "berth-dockd" && !strings.Contains(scripts["postinst"], "head -c 32 /dev/urandom > /etc/berth/buffer.key.new") {
				t.Errorf("postinst does not make the buffer key")
			}

			// The data: binaries for the right machine, the unit with its
			// watchdog starting a binary of the package.
			data := t.TempDir()
			dpkgDeb(t, "-x", deb, data)
			for _, b := range w.bins {
				f, err := elf.Open(filepath.Join(data, b))
				if err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				if f.Machine != w.machine {
					t.Errorf("%s is for %v, want %v", b, f.Machine, w.machine)
				}
				f.Close()
			}
			unit, err := os.ReadFile(filepath.Join(data, w.unit))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range []string{"Type=notify", "WatchdogSec=30s", "User=berth", "Restart=always"} {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(l) + `$`).Match(unit) {
					t.Errorf("%s lacks %q", w.unit, l)
				}
			}
			m := regexp.MustCompile(`(?m)^ExecStart=(\S+)`).FindSubmatch(unit)
			if m == nil {
				t.Fatalf("%s has no ExecStart", w.unit)
			}
			if _, ok := got[string(m[1])]; !ok {
				t.Errorf("%s starts %s, which the package does not install", w.unit, m[1])
			}
			// Nothing widens a unit's privileges by default: no drop-in
			// directory is installed where systemd reads one.
			for path := range got {
				if strings.HasPrefix(path, "/etc/systemd") || strings.HasPrefix(path, "/lib/systemd/system/") && strings.HasSuffix(path, ".d") ||
					strings.Contains(path, ".service.d/") {
					t.Errorf("%s is active at install: a drop-in must be opt-in", path)
				}
			}
			if w.pkg == "berth-dockd" {
				checkMassStorageDropIn(t, data, w.unit)
			}
		})
	}
}

// checkMassStorageDropIn checks the shipped, inactive mass-storage
// drop-in: it grants what mounting a recorder's volume needs and nothing
// that undoes the unit's other settings, the documentation shipped beside
// it says how to enable it, and systemd accepts the unit with it (when
// systemd-analyze is installed).
func checkMassStorageDropIn(t *testing.T, data, unit string) {
	t.Helper()
	const shipped = "/usr/share/berth/systemd/dockd-mass-storage.conf"
	const enabled = "/etc/systemd/system/dockd.service.d/mass-storage.conf"
	b, err := os.ReadFile(filepath.Join(data, shipped))
	if err != nil {
		t.Fatal(err)
	}
	var settings []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			settings = append(settings, l)
		}
	}
	if want := []string{"[Service]", "AmbientCapabilities=CAP_SYS_ADMIN", "CapabilityBoundingSet=CAP_SYS_ADMIN",
		"SupplementaryGroups=disk"}; strings.Join(settings, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s sets %q, want %q", shipped, settings, want)
	}
	if !strings.Contains(string(b), shipped) || !strings.Contains(string(b), enabled) {
		t.Errorf("%s does not say how to enable it (copy it to %s)", shipped, enabled)
	}
	doc, err := os.ReadFile(filepath.Join(data, "/usr/share/doc/berth-dockd/boards.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), shipped) || !strings.Contains(string(doc), enabled) {
		t.Errorf("boards.md does not say how to enable %s", shipped)
	}
	verifyUnit(t, data, unit, shipped)
}

// verifyUnit runs systemd-analyze verify on the packaged unit with the
// drop-in enabled beside it, in a scratch directory (ExecStart pointed at
// the packaged binary there). It skips without systemd-analyze.
func verifyUnit(t *testing.T, data, unit, dropIn string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: the drop-in is not verified by systemd")
		return
	}
	dir := t.TempDir()
	u, err := os.ReadFile(filepath.Join(data, unit))
	if err != nil {
		t.Fatal(err)
	}
	// The scratch unit starts an executable that exists here: verify
	// checks ExecStart's path.
	u = regexp.MustCompile(`(?m)^ExecStart=(\S+)`).ReplaceAllFunc(u, func([]byte) []byte { return []byte("ExecStart=/bin/true") })
	name := filepath.Base(unit)
	if err := os.WriteFile(filepath.Join(dir, name), u, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile(filepath.Join(data, dropIn))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, name+".d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".d", "mass-storage.conf"), d, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sa, "verify", "--man=no", filepath.Join(dir, name))
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, err := cmd.CombinedOutput()
	// verify complains about what this machine lacks (the berth user,
	// a unit the dependencies name); only the drop-in's words count.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "mass-storage.conf") || strings.Contains(l, "Unknown key") || strings.Contains(l, "Failed to parse") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
	t.Logf("systemd-analyze verify %s with the drop-in: %v\n%s", name, err, out)
}

// TestDockdArm64UnderQemu starts the packaged arm64 dockd under qemu-user
// on the simulated board it ships (no recorder, collector or broker
// answering): it tells systemd it is ready and pets the watchdog (through
// a NOTIFY_SOCKET the test listens on), serves its local API and its
// metrics, and stops cleanly on SIGTERM. It skips without
// qemu-aarch64-static unless BERTH_REQUIRE_QEMU=1.
func TestDockdArm64UnderQemu(t *testing.T) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		if qemu, err = exec.LookPath("qemu-aarch64"); err != nil {
			if os.Getenv("BERTH_REQUIRE_QEMU") == "" {
				t.Skip("no qemu-aarch64-static (apt-get install qemu-user-static; BERTH_REQUIRE_QEMU=1 demands it)")
			}
			t.Fatal("BERTH_REQUIRE_QEMU is set and neither qemu-aarch64-static nor qemu-aarch64 is installed")
		}
	}
	deb := packages(t)["berth-dockd_arm64"]
	root := t.TempDir()
	dpkgDeb(t, "-x", deb, root)

	// Unix socket paths are limited to ~108 bytes: a short directory.
	dir, err := os.MkdirTemp("", "qd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	key := make([]byte, 32)
	rand.Read(key)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("dockd.yaml", fmt.Sprintf(`dock: dock-qemu
unit: unit-sim
board: %s
data_dir: %s
buffer_key_file: %s
buffer_capacity: 256MiB
enrolled_devices: %s
collector:
  url: http://127.0.0.1:9
  public_key: %q
  token_file: %s
mqtt:
  broker: tcp://127.0.0.1:9
api_socket: %s
metrics_addr: 127.0.0.1:0
`, filepath.Join(root, "usr/share/berth/boards/sim-4slot.yaml"), filepath.Join(dir, "data"), write("buffer.key", string(key)),
		write("recorders.json", "{}"), base64.StdEncoding.EncodeToString(pub), write("dock.token", "token"),
		filepath.Join(dir, "d.sock")))

	notifyPath := filepath.Join(dir, "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	notes := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := notify.ReadFromUnix(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()

	cmd := exec.Command(qemu, filepath.Join(root, "usr/bin/dockd"), "--config", cfg, "--log-level", "info")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notifyPath, "WATCHDOG_USEC=2000000")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var logMu sync.Mutex
	var logBuf strings.Builder
	metricsURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			logBuf.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				metricsURL <- m[1]
			}
		}
		done <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("dockd's log:\n%s", logBuf.String())
			logMu.Unlock()
		}
	}()

	// Ready, then petting the watchdog.
	wantNote := func(what string) {
		t.Helper()
		deadline := time.After(90 * time.Second)
		for {
			select {
			case n, ok := <-notes:
				if !ok {
					t.Fatalf("notify socket closed before %s", what)
				}
				if strings.Contains(n, what) {
					t.Logf("%s after %s", strings.TrimSpace(n), time.Since(began).Round(time.Millisecond))
					return
				}
			case err := <-done:
				t.Fatalf("dockd exited before %s: %v", what, err)
			case <-deadline:
				t.Fatalf("no %s from dockd within 90s", what)
			}
		}
	}
	wantNote("READY=1")
	wantNote("WATCHDOG=1")

	var url string
	select {
	case url = <-metricsURL:
	case <-time.After(30 * time.Second):
		t.Fatal("dockd logged no metrics address")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body := new(strings.Builder)
	_, err = bufio.NewReader(resp.Body).WriteTo(body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(body.String(), "berth_dock_buffer_capacity_bytes 2.68435456e+08") {
		t.Fatalf("GET %s: %s %v; body lacks the buffer capacity:\n%.2000s", url, resp.Status, err, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var st localapi.Status
	if err := localapi.NewClient(filepath.Join(dir, "d.sock")).Get(ctx, "status", &st); err != nil {
		t.Fatalf("local API: %v", err)
	}
	if st.Dock != "dock-qemu" || st.Version != "1.2.3~test" || len(st.Slots) != 4 {
		t.Fatalf("local API status: dock %q version %q, %d slots; want dock-qemu, 1.2.3~test, 4 slots", st.Dock, st.Version, len(st.Slots))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dockd on SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dockd under qemu did not stop within 60s of SIGTERM")
	}
	wantNote("STOPPING=1")
	t.Logf("arm64 dockd under %s: started, served, stopped cleanly in %s", filepath.Base(qemu), time.Since(began).Round(time.Millisecond))
}
