package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// listeners starts n TCP servers that accept and hold connections, as
// recsim's recorders do, and returns their addresses.
func listeners(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// simBoard writes a 4-slot simulated board file; links[i] is slot i's
// serial section, extra is appended at the end.
func simBoard(t *testing.T, links []string, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("board: ci-sim\nkind: sim\nleds: {type: gpio}\nslots:\n")
	for i, l := range links {
		n := string(rune('A' + i))
		fmt.Fprintf(&b, "  - name: %s\n    charge: {pin: CHG_%s}\n    presence: {pin: PRS_%s}\n", n, n, n)
		fmt.Fprintf(&b, "    led: {pins: [LED_%s_R, LED_%s_G, LED_%s_B]}\n", n, n, n)
		fmt.Fprintf(&b, "    current: {address: %#x, limit: 2.5A}\n    serial: %s\n", 0x40+i, l)
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "board.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func tcpLinks(addrs []string) []string {
	var l []string
	for _, a := range addrs {
		l = append(l, fmt.Sprintf("{tcp: %q}", a))
	}
	return l
}

func selftest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--dwell", "2ms", "--power-on", "2ms", "--link-timeout", "2s")
	code := run(context.Background(), append([]string{"selftest"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestSelftestSimBoardPasses(t *testing.T) {
	path := simBoard(t, tcpLinks(listeners(t, 4)), "")
	code, out, errOut := selftest(t, "--board", path)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"SLOT  LED", "red,green,blue,white", "on/off", "5.048V, 849.", "tcp:127.0.0.1:", "all 4 slots passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if rows := strings.Count(out, " ok\n"); rows != 4 {
		t.Errorf("%d passing rows, want 4:\n%s", rows, out)
	}
}

func TestSelftestUnreachableDevices(t *testing.T) {
	addrs := listeners(t, 4)
	for _, tc := range []struct {
		name  string
		links []string
		extra string
		want  string
	}{
		{
			name:  "missing serial path",
			links: append(tcpLinks(addrs[:3]), "{path: /dev/serial/by-path/platform-nonexistent-usb-0:1.4:1.0}"),
			want:  "slot D: link /dev/serial/by-path/platform-nonexistent-usb-0:1.4:1.0: recorder present but its link does not open",
		},
		{
			name:  "recorder link refuses",
			links: append(tcpLinks(addrs[:3]), `{tcp: "127.0.0.1:1"}`),
			want:  "slot D: link tcp:127.0.0.1:1: recorder present but its link does not open",
		},
		{
			name:  "missing I2C sensor",
			links: tcpLinks(addrs),
			extra: "sim:\n  missing_i2c: [0x41]\n",
			want:  "slot B: current sensor: board: hardware not reachable: ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := selftest(t, "--board", simBoard(t, tc.links, tc.extra))
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
			if !strings.Contains(errOut, "1 of 4 slots failed") {
				t.Fatalf("stderr: %s", errOut)
			}
			if tc.name == "missing I2C sensor" && !strings.Contains(out, "no INA219 answers at the address") {
				t.Fatalf("missing sensor reason not given:\n%s", out)
			}
		})
	}
}

func TestSelftestBadBoardFile(t *testing.T) {
	path := simBoard(t, tcpLinks([]string{"127.0.0.1:5", "127.0.0.1:6"}), "")
	data, _ := os.ReadFile(path)
	bad := strings.Replace(string(data), "PRS_B", "CHG_A", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := selftest(t, "--board", path)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	want := path + ":13: slots[1].presence.pin: pin CHG_A already used by slots[0].charge.pin"
	if strings.TrimSpace(errOut) != "dockctl selftest: "+want {
		t.Fatalf("stderr %q\nwant   %q", errOut, want)
	}
}

func TestSelftestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"selftest"}, &out, &errb); code != 2 {
		t.Fatalf("no --board: exit %d", code)
	}
	if code := run(context.Background(), []string{"selftest", "--board", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errb); code != 1 {
		t.Fatalf("missing file: exit %d", code)
	}
}

// The shipped simulated board file passes once recorders answer on its
// slots' addresses (here listeners on 127.0.0.1:0 instead of recsim's
// fixed demo ports).
func TestSelftestDeploySimBoard(t *testing.T) {
	data, err := os.ReadFile("../../deploy/boards/sim-4slot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := string(data)
	for i, addr := range listeners(t, 4) {
		old := fmt.Sprintf("127.0.0.1:%d", 7301+i)
		if !strings.Contains(file, old) {
			t.Fatalf("sim-4slot.yaml no longer links a slot to %s", old)
		}
		file = strings.Replace(file, old, addr, 1)
	}
	path := filepath.Join(t.TempDir(), "sim-4slot.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := selftest(t, "--board", path)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "SLOT  LED") || !strings.Contains(out, "all 4 slots passed") {
		t.Fatalf("no table:\n%s", out)
	}
}

// A Raspberry Pi board file on a machine without the Pi's GPIO, I2C and
// SPI devices: the hardware is unreachable, and selftest says which part
// of which board-file line, in one line, and exits 1.
func TestSelftestRealBoardUnreachable(t *testing.T) {
	for _, glob := range []string{"/dev/gpiochip*", "/dev/spidev*", "/dev/i2c-*"} {
		if m, _ := filepath.Glob(glob); len(m) > 0 {
			t.Skipf("%s exists: this machine has real dock hardware, which a unit test must not drive", m[0])
		}
	}
	for _, file := range []string{"../../deploy/boards/rpi4-4slot.yaml", "../../deploy/boards/rpi5-4slot.yaml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			code, out, errOut := selftest(t, "--board", file)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			msg := strings.TrimSpace(errOut)
			if strings.Contains(msg, "\n") {
				t.Fatalf("reason spans several lines:\n%s", msg)
			}
			want := "dockctl selftest: board: real hardware needs Linux"
			if runtime.GOOS == "linux" {
				want = "dockctl selftest: board: hardware not reachable: " + file + ":"
			}
			if !strings.HasPrefix(msg, want) {
				t.Fatalf("stderr %q\nwant prefix %q", msg, want)
			}
			if out != "" {
				t.Fatalf("printed a table for a board it could not open:\n%s", out)
			}
		})
	}
}

// A legacy mass-storage slot is checked by its volume's block device
// (never mounted): missing while a recorder is docked, or not a block
// device, fails the slot; a block device passes.
func TestSelftestStorageSlot(t *testing.T) {
	addrs := tcpLinks(listeners(t, 3))
	regular := filepath.Join(t.TempDir(), "not-a-disk")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	block := ""
	for _, p := range []string{"/dev/loop0", "/dev/sda", "/dev/vda"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			block = p
			break
		}
	}
	for _, tc := range []struct {
		name, path, want string
		code             int
	}{
		{"volume missing", "/dev/disk/by-path/platform-nonexistent-usb-0:1.4:1.0-scsi-0:0:0:0-part1", "slot D: storage /dev/disk/by-path/platform-nonexistent-usb-0:1.4:1.0-scsi-0:0:0:0-part1: recorder present but its volume does not appear", 1},
		{"not a block device", regular, "slot D: storage " + regular + ": not a block device", 1},
		{"block device", block, block, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == "" {
				t.Skip("no block device on this machine to point the slot at")
			}
			path := simBoard(t, addrs, "")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, []byte(fmt.Sprintf("  - name: D\n    charge: {pin: CHG_D}\n    presence: {pin: PRS_D}\n    led: {pins: [LED_D_R, LED_D_G, LED_D_B]}\n    current: {address: 0x43, limit: 2.5A}\n    storage: {path: %q}\n", tc.path))...)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := selftest(t, "--board", path)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}
