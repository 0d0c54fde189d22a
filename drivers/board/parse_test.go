package board

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

func TestDeployBoardFilesParse(t *testing.T) {
	files, err := filepath.Glob("../../deploy/boards/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("board files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Slots) != 4 {
				t.Fatalf("%d slots", len(s.Slots))
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	s, err := Load("../../deploy/boards/rpi4-4slot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := s.Slots[0]
	if s.Kind != KindRPi4 || s.LEDs.Type != LEDAPA102 || s.LEDs.Pixels != 4 || s.LEDs.SPI != "/dev/spidev0.0" {
		t.Fatalf("board fields %+v", s)
	}
	if a.Name != "A" || a.Charge.Pin.Name != "GPIO5" || a.Charge.Settle != 2*time.Second ||
		a.Presence.Pin.Name != "GPIO16" || a.Presence.ActiveHigh || a.Presence.Pull != "up" ||
		a.Presence.Settle != 50*time.Millisecond || a.LED.Pixel != 0 {
		t.Fatalf("slot A %+v", a)
	}
	c := a.Current
	if c == nil || c.Bus != "/dev/i2c-1" || c.Address != 0x40 || c.Shunt != 100*physic.MilliOhm ||
		c.Max != 3200*physic.MilliAmpere || c.Limit != 2500*physic.MilliAmpere {
		t.Fatalf("slot A current %+v", c)
	}
	if !strings.HasPrefix(a.Serial.Path, "/dev/serial/by-path/") {
		t.Fatalf("serial %+v", a.Serial)
	}
	if s.Slots[1].Current.Shunt != 100*physic.MilliOhm {
		t.Fatal("default shunt not applied")
	}
}

const good = `board: t
kind: rpi4
leds:
  type: gpio
slots:
  - name: A
    charge: {pin: GPIO5}
    presence: {pin: GPIO17}
    led: {pins: [GPIO22]}
    serial: {path: /dev/ttyACM0}
  - name: B
    charge: {pin: GPIO6}
    presence: {pin: GPIO27}
    led: {pins: [GPIO23, GPIO24, GPIO25]}
    current: {address: 0x41}
    serial: {path: /dev/ttyACM1}
`

// edit replaces old with new in the good file, failing if old is absent.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	s := good
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("test edit: %q not in the file", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse("board.yaml", []byte(good)); err != nil {
		t.Fatalf("good file: %v", err)
	}
	for _, tc := range []struct {
		name string
		file string
		want string
	}{
		{"pin used twice", edit(t, "presence: {pin: GPIO27}", "presence: {pin: GPIO17}"),
			"board.yaml:13: slots[1].presence.pin: pin GPIO17 already used by slots[0].presence.pin"},
		{"charge and presence share a pin", edit(t, "led: {pins: [GPIO22]}", "led: {pins: [GPIO5]}"),
			"board.yaml:9: slots[0].led.pins[0]: pin GPIO5 already used by slots[0].charge.pin"},
		{"unknown pin", edit(t, "charge: {pin: GPIO6}", "charge: {pin: GPIO40}"),
			`board.yaml:12: slots[1].charge.pin: unknown pin "GPIO40" (Raspberry Pi header pins are GPIO0 to GPIO27)`},
		{"pin of the I2C bus", edit(t, "charge: {pin: GPIO6}", "charge: {pin: GPIO2}"),
			"board.yaml:12: slots[1].charge.pin: pin GPIO2 is I2C1 SDA, used by the board's i2c devices"},
		{"missing presence", edit(t, "    presence: {pin: GPIO17}\n", ""),
			"board.yaml:6: slots[0].presence: missing"},
		{"missing pin", edit(t, "charge: {pin: GPIO5}", "charge: {active_low: true}"),
			"board.yaml:7: slots[0].charge.pin: missing"},
		{"unknown field", edit(t, "charge: {pin: GPIO5}", "charge: {pin: GPIO5, pinn: GPIO9}"),
			"board.yaml:7: slots[0].charge.pinn: unknown field"},
		{"bad active level", edit(t, "presence: {pin: GPIO17}", "presence: {pin: GPIO17, active: sideways}"),
			`board.yaml:8: slots[0].presence.active: want low or high, got "sideways"`},
		{"two LED pins", edit(t, "[GPIO22]", "[GPIO22, GPIO26]"),
			"board.yaml:9: slots[0].led.pins: gpio LEDs need 1 pin or 3 pins (red, green, blue), got 2"},
		{"serial path twice", edit(t, "/dev/ttyACM1", "/dev/ttyACM0"),
			"board.yaml:16: slots[1].serial.path: /dev/ttyACM0 already used by slots[0].serial.path"},
		{"no serial", edit(t, "serial: {path: /dev/ttyACM0}", "serial: {}"),
			"board.yaml:10: slots[0].serial: want exactly one of path (a serial device) or tcp (simulated board)"},
		{"tcp on real board", edit(t, "serial: {path: /dev/ttyACM0}", "serial: {tcp: \"127.0.0.1:1\"}"),
			"board.yaml:10: slots[0].serial.tcp: tcp links exist only on the simulated board (kind: sim)"},
		{"sensor address", edit(t, "address: 0x41", "address: 0x70"),
			"board.yaml:15: slots[1].current.address: ina219 address 0x70 outside 0x40-0x4f"},
		{"bad shunt unit", edit(t, "address: 0x41", "address: 0x41, shunt: 100 bananas"),
			`board.yaml:15: slots[1].current.shunt: want a value like 100mΩ, got "100 bananas"`},
		{"limit above full scale", edit(t, "address: 0x41", "address: 0x41, limit: 5A"),
			"board.yaml:15: slots[1].current.limit: limit 5A above the calibrated full scale 3.200A"},
		{"duplicate slot name", edit(t, "name: B", "name: A"),
			`board.yaml:11: slots[1].name: name "A" already used by slots[0].name`},
		{"bad duration", edit(t, "charge: {pin: GPIO5}", "charge: {pin: GPIO5, settle: 2}"),
			`board.yaml:7: slots[0].charge.settle: want a positive duration like 50ms or 2s, got "2"`},
		{"unknown kind", edit(t, "kind: rpi4", "kind: rpi3"),
			`board.yaml:2: kind: unknown kind "rpi3" (want rpi4, rpi5 or sim)`},
		{"strip without pixels", edit(t, "type: gpio", "type: apa102\n  spi: SPI0.0"),
			"board.yaml:4: leds.pixels: a strip needs its number of pixels (at least 1)"},
		{"ina3221 without channel", edit(t, "address: 0x41}", "address: 0x41, type: ina3221}"),
			"board.yaml:15: slots[1].current.channel: missing"},
		{"ina3221 channel 4", edit(t, "address: 0x41}", "address: 0x41, type: ina3221, channel: 4}"),
			"board.yaml:15: slots[1].current.channel: INA3221 channel 4 (want 1 to 3)"},
		{"channel on an ina219", edit(t, "address: 0x41}", "address: 0x41, channel: 2}"),
			"board.yaml:15: slots[1].current.channel: only an ina3221 has channels"},
		{"ina3221 limit beyond its range", edit(t, "address: 0x41}", "address: 0x41, type: ina3221, channel: 1, limit: 2A}"),
			"board.yaml:15: slots[1].current.limit: limit 2A above the calibrated full scale 1.638A"},
		{"one chip, two types", edit(t, "    serial: {path: /dev/ttyACM0}", "    current: {address: 0x41, type: ina3221, channel: 1}\n    serial: {path: /dev/ttyACM0}"),
			`board.yaml:16: slots[1].current.type: ina219 on bus "" address 0x41, but slots[0].current says that chip is an ina3221`},
		{"serial and storage", edit(t, "serial: {path: /dev/ttyACM0}", "serial: {path: /dev/ttyACM0}\n    storage: {path: /dev/sda1}"),
			"board.yaml:10: slots[0].serial: a slot has a serial link or mass storage, not both"},
		{"relative storage path", edit(t, "serial: {path: /dev/ttyACM0}", "storage: {path: sda1}"),
			`board.yaml:10: slots[0].storage.path: want an absolute path (a /dev/disk/by-path link), got "sda1"`},
		{"storage path twice", edit(t, "serial: {path: /dev/ttyACM0}", "storage: {path: /dev/sda1}", "serial: {path: /dev/ttyACM1}", "storage: {path: /dev/sda1}"),
			"board.yaml:16: slots[1].storage.path: /dev/sda1 already used by slots[0].storage.path"},
		{"storage without path", edit(t, "serial: {path: /dev/ttyACM0}", "storage: {fstypes: [vfat]}"),
			"board.yaml:10: slots[0].storage.path: missing"},
		{"huge", "# " + strings.Repeat("x", MaxFileSize), "board.yaml:1: 262146 bytes, larger than a board file can be"},
		{"not YAML", "board: [\n", "board.yaml:1: not valid YAML"},
		{"no slots", "board: x\nkind: sim\nleds: {type: gpio}\nslots: []\n",
			"board.yaml:4: slots: want a list of at least one slot, got a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("board.yaml", []byte(tc.file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v does not wrap ErrInvalid", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Fatalf("one mistake gave several lines:\n%s", msg)
			}
			if !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("got  %s\nwant %s", msg, tc.want)
			}
		})
	}
}

// A slot for legacy recorders names its USB port's block device instead of
// a serial link.
func TestParseStorageSlot(t *testing.T) {
	dev := "/dev/disk/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-scsi-0:0:0:0-part1"
	s, err := Parse("board.yaml", []byte(edit(t, "serial: {path: /dev/ttyACM1}", "storage: {path: "+dev+", fstypes: [vfat, exfat]}")))
	if err != nil {
		t.Fatal(err)
	}
	if s.Slots[0].Storage != nil {
		t.Errorf("slot A has storage %+v", s.Slots[0].Storage)
	}
	st := s.Slots[1].Storage
	if st == nil || st.Path != dev || len(st.FSTypes) != 2 || st.FSTypes[1] != "exfat" || s.Slots[1].Serial.Path != "" {
		t.Fatalf("slot B storage %+v serial %+v", st, s.Slots[1].Serial)
	}
}

// Anchors and merge keys let an installer write shared settings once.
func TestParseAnchorsAndMerge(t *testing.T) {
	s, err := Parse("board.yaml", []byte(`board: t
kind: rpi5
leds: {type: gpio, active_low: true}
slots:
  - name: A
    charge: &chg {pin: GPIO5, active_low: true, settle: 3s}
    presence: &prs {pin: GPIO17, active: high, pull: down}
    led: {pins: [GPIO22]}
    serial: {path: /dev/a}
  - name: B
    charge: {<<: *chg, pin: GPIO6}
    presence: {<<: *prs, pin: GPIO27}
    led: {pins: [GPIO23]}
    serial: {path: /dev/b}
`))
	if err != nil {
		t.Fatal(err)
	}
	b := s.Slots[1]
	if b.Charge.Pin.Name != "GPIO6" || !b.Charge.ActiveLow || b.Charge.Settle != 3*time.Second ||
		b.Presence.Pin.Name != "GPIO27" || !b.Presence.ActiveHigh || b.Presence.Pull != "down" {
		t.Fatalf("merged slot %+v", b)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load = %v", err)
	}
}

// FuzzParse: any input gives a Spec or an error, never a panic, and every
// error line names the file and a line.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	for _, p := range []string{"../../deploy/boards/sim-4slot.yaml", "../../deploy/boards/rpi5-4slot.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("slots: [1, {charge: []}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("error line without position: %q", line)
				}
			}
			return
		}
		if len(s.Slots) == 0 {
			t.Fatal("valid board without slots")
		}
	})
}
