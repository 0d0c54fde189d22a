package board

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/drivers/ina3221"
	"github.com/berthdock/berth/drivers/led"
	"github.com/berthdock/berth/drivers/presence"
	"github.com/berthdock/berth/drivers/seriallink"
)

const simFile = `board: test-sim
kind: sim
leds: {type: gpio}
slots:
  - name: A
    charge: {pin: CHG_A, settle: 1s}
    presence: {pin: PRS_A}
    led: {pins: [LED_A_R, LED_A_G, LED_A_B]}
    current: {address: 0x40, limit: 2.5A}
    serial: {tcp: "127.0.0.1:1"}
  - name: B
    charge: {pin: CHG_B, active_low: true}
    presence: {pin: PRS_B, active: high, pull: down, settle: 100ms}
    led: {pins: [LED_B]}
    current: {address: 0x41}
    serial: {path: /nonexistent/by-path/usb-0:1.2:1.0}
  - name: C
    charge: {pin: CHG_C}
    presence: {pin: PRS_C}
    led: {pins: [LED_C]}
    serial: {tcp: "127.0.0.1:2"}
sim:
  missing_i2c: [0x41]
`

func openSim(t *testing.T, file string) *Board {
	t.Helper()
	s, err := Parse("sim.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Halt(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func nextEvent(t *testing.T, s *Slot) presence.Event {
	t.Helper()
	select {
	case ev := <-s.Presence.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no presence event", s)
	}
	return presence.Event{}
}

func TestSimPresence(t *testing.T) {
	b := openSim(t, simFile)
	sim := b.Sim()
	for _, s := range b.Slots() {
		if ev := nextEvent(t, s); !ev.Initial || ev.Present {
			t.Fatalf("%s: initial %+v, want empty", s, ev)
		}
	}
	a, bb := b.Slots()[0], b.Slots()[1]
	if err := sim.Insert(0); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, a); !ev.Present {
		t.Fatalf("insert: %+v", ev)
	}
	if err := sim.Bounce(1, 4, true); err != nil { // active-high slot, worn contact
		t.Fatal(err)
	}
	if ev := nextEvent(t, bb); !ev.Present {
		t.Fatalf("bounced insert: %+v", ev)
	}
	select {
	case ev := <-bb.Presence.Events():
		t.Fatalf("bounce leaked an extra event %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
	if err := sim.Remove(0); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, a); ev.Present {
		t.Fatalf("remove: %+v", ev)
	}
	if err := sim.Insert(7); !errors.Is(err, ErrSimSlot) {
		t.Fatalf("Insert(7) = %v", err)
	}
}

func TestSimPowerAndLEDs(t *testing.T) {
	b := openSim(t, simFile)
	sim := b.Sim()
	for i, want := range []gpio.Level{gpio.Low, gpio.High, gpio.Low} { // B is active low
		if l, _ := sim.ChargeLevel(i); l != want {
			t.Fatalf("slot %d charge level %v after Open, want off (%v)", i, l, want)
		}
	}
	a, bb := b.Slots()[0], b.Slots()[1]
	if err := a.Power.Set(true); err != nil {
		t.Fatal(err)
	}
	if err := bb.Power.Set(true); err != nil {
		t.Fatal(err)
	}
	if l, _ := sim.ChargeLevel(0); l != gpio.High {
		t.Fatal("slot A not powered")
	}
	if l, _ := sim.ChargeLevel(1); l != gpio.Low {
		t.Fatal("active-low slot B not powered")
	}
	if err := a.SetPattern(led.Solid(led.Amber)); err != nil {
		t.Fatal(err)
	}
	if err := bb.SetPattern(led.Solid(led.Green)); err != nil {
		t.Fatal(err)
	}
	if l, _ := sim.LEDLevels(0); !slices.Equal(l, []gpio.Level{gpio.High, gpio.High, gpio.Low}) {
		t.Fatalf("slot A LED %v, want amber (R+G)", l)
	}
	if l, _ := sim.LEDLevels(1); !slices.Equal(l, []gpio.Level{gpio.High}) {
		t.Fatalf("slot B LED %v", l)
	}
	if a.Pattern() != led.Solid(led.Amber) {
		t.Fatalf("Pattern() = %s", a.Pattern())
	}
	if err := b.Halt(); err != nil {
		t.Fatal(err)
	}
	if l, _ := sim.ChargeLevel(0); l != gpio.Low {
		t.Fatal("Halt left slot A powered")
	}
	if l, _ := sim.LEDLevels(0); !slices.Equal(l, []gpio.Level{gpio.Low, gpio.Low, gpio.Low}) {
		t.Fatalf("Halt left slot A lit: %v", l)
	}
	if l, _ := sim.ChargeLevel(1); l != gpio.High { // slot B's charge line is active low
		t.Fatal("Halt left slot B powered")
	}
	// Halt joined every presence watcher: their channels are closed.
	for _, s := range b.Slots() {
		for range s.Presence.Events() {
		}
	}
}

// dock inserts a recorder in slot i, waits for the event and powers it.
func dock(t *testing.T, b *Board, i int) {
	t.Helper()
	s := b.Slots()[i]
	if err := b.Sim().Insert(i); err != nil {
		t.Fatal(err)
	}
	for ev := nextEvent(t, s); !ev.Present; ev = nextEvent(t, s) {
	}
	if err := s.Power.Set(true); err != nil {
		t.Fatal(err)
	}
}

func TestSimCurrent(t *testing.T) {
	b := openSim(t, simFile)
	sim := b.Sim()
	a := b.Slots()[0]
	if r, err := a.Sense(); err != nil || r.Current != 0 || r.Voltage != 0 {
		t.Fatalf("empty unpowered slot reads %s, %v", r, err)
	}
	dock(t, b, 0)
	if r, err := a.Sense(); err != nil || r.Current < 849*physic.MilliAmpere || r.Current > 851*physic.MilliAmpere {
		t.Fatalf("docked recorder with the default load reads %s, %v", r, err)
	}
	for _, tc := range []struct {
		name     string
		amps     physic.ElectricCurrent
		over     bool
		overflow bool
	}{
		{"charging", 850 * physic.MilliAmpere, false, false},
		{"battery not taking charge", 0, false, false},
		{"over the 2.5 A limit", 2800 * physic.MilliAmpere, true, false},
		{"short beyond full scale", 4 * physic.Ampere, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sim.SetLoad(0, 5050*physic.MilliVolt, tc.amps); err != nil {
				t.Fatal(err)
			}
			r, err := a.Sense()
			if err != nil {
				t.Fatal(err)
			}
			if r.OverCurrent != tc.over || r.Overflow != tc.overflow {
				t.Fatalf("reading %s: over=%v overflow=%v", r, r.OverCurrent, r.Overflow)
			}
			if r.Voltage != 5048*physic.MilliVolt { // 4 mV steps
				t.Fatalf("voltage %s", r.Voltage)
			}
			if !tc.overflow {
				if d := r.Current - tc.amps; d > physic.MilliAmpere || d < -physic.MilliAmpere {
					t.Fatalf("current %s, want %s", r.Current, tc.amps)
				}
			}
		})
	}
	// The agent cuts power on over-current: the sensor then reads nothing.
	if err := a.Power.Set(false); err != nil {
		t.Fatal(err)
	}
	if r, err := a.Sense(); err != nil || r.Current != 0 || r.OverCurrent {
		t.Fatalf("after the cut: %s, %v", r, err)
	}
	if _, err := b.Slots()[1].Sense(); !errors.Is(err, chargesense.ErrNoDevice) || !errors.Is(err, ErrHardware) {
		t.Fatalf("missing sensor: %v", err)
	}
	if !strings.Contains(errString(b.Slots()[1].Sense()), "sim.yaml:15: slots[1].current") {
		t.Fatalf("missing sensor error does not name the board line: %s", errString(b.Slots()[1].Sense()))
	}
	if _, err := b.Slots()[2].Sense(); !errors.Is(err, ErrNoSensor) {
		t.Fatalf("slot without sensor: %v", err)
	}
}

func errString(_ chargesense.Reading, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A recorder pulled out while the agent power-cycles its slot: the agent
// cancels on the removal event and the slot ends up off.
func TestRemovalDuringPowerOn(t *testing.T) {
	b := openSim(t, simFile)
	sim := b.Sim()
	a := b.Slots()[0]
	nextEvent(t, a)
	if err := sim.Insert(0); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, a)
	if err := a.Power.Set(true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Power.PowerCycle(ctx) }()
	if err := sim.Remove(0); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, a); ev.Present {
		t.Fatalf("%+v", ev)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("PowerCycle = %v (the 1 s settle should not have elapsed)", err)
	}
	if l, _ := sim.ChargeLevel(0); l != gpio.Low || a.Power.On() {
		t.Fatal("empty slot left powered")
	}
}

func TestSimLinks(t *testing.T) {
	b := openSim(t, simFile)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	if err := b.Sim().SetLink(0, ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	a := b.Slots()[0]
	if a.LinkName() != "tcp:"+ln.Addr().String() {
		t.Fatalf("LinkName %q", a.LinkName())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := a.OpenLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	_, err = b.Slots()[1].OpenLink(ctx)
	if !errors.Is(err, ErrLink) || !errors.Is(err, seriallink.ErrUnplugged) {
		t.Fatalf("missing serial path: %v", err)
	}
	_, err = b.Slots()[2].OpenLink(ctx) // nobody on 127.0.0.1:2
	if !errors.Is(err, ErrLink) {
		t.Fatalf("dead TCP link: %v", err)
	}
}

func TestStripOnSim(t *testing.T) {
	b := openSim(t, `board: strip
kind: sim
leds: {type: apa102, spi: SPI0.0, pixels: 8}
slots:
  - {name: A, charge: {pin: C}, presence: {pin: P}, led: {pixel: 5}, serial: {tcp: "127.0.0.1:1"}}
`)
	if err := b.Slots()[0].SetPattern(led.Pulse(led.Blue, time.Second)); err != nil {
		t.Fatal(err)
	}
	if b.LEDs().Err() != nil {
		t.Fatal(b.LEDs().Err())
	}
}

func TestRealBoardWithoutHardware(t *testing.T) {
	if matches, _ := filepath.Glob("/dev/gpiochip*"); len(matches) > 0 {
		t.Skip("this machine has GPIO chips; the real-hardware path is exercised by dockctl selftest on a Pi")
	}
	s, err := Load("../../deploy/boards/rpi4-4slot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(s, nil)
	if runtime.GOOS != "linux" {
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Open on %s = %v, want ErrUnsupported", runtime.GOOS, err)
		}
		return
	}
	if !errors.Is(err, ErrHardware) {
		t.Fatalf("Open without GPIO chips = %v, want ErrHardware", err)
	}
	if !strings.Contains(err.Error(), "rpi4-4slot.yaml:") {
		t.Fatalf("error does not name the board file line: %v", err)
	}
}

const ina3221File = `board: three-on-one
kind: sim
leds: {type: gpio}
slots:
  - {name: A, charge: {pin: CA}, presence: {pin: PA}, led: {pins: [LA]}, serial: {tcp: "127.0.0.1:1"},
     current: {type: ina3221, address: 0x40, channel: 1, limit: 1.2A}}
  - {name: B, charge: {pin: CB}, presence: {pin: PB}, led: {pins: [LB]}, serial: {tcp: "127.0.0.1:2"},
     current: {type: ina3221, address: 0x40, channel: 2, shunt: 50mΩ, limit: 2.5A}}
  - {name: C, charge: {pin: CC}, presence: {pin: PC}, led: {pins: [LC]}, serial: {tcp: "127.0.0.1:3"},
     current: {type: ina3221, address: 0x40, channel: 3}}
`

// Three slots share one INA3221; each reads its own channel with its own
// shunt and limit.
func TestSimINA3221(t *testing.T) {
	b := openSim(t, ina3221File)
	sim := b.Sim()
	loads := []physic.ElectricCurrent{850 * physic.MilliAmpere, 2600 * physic.MilliAmpere, 5 * physic.Ampere}
	for i, a := range loads {
		if err := sim.SetLoad(i, 5*physic.Volt, a); err != nil {
			t.Fatal(err)
		}
		dock(t, b, i)
	}
	for i, tc := range []struct {
		current  physic.ElectricCurrent
		over     bool
		overflow bool
	}{
		{850 * physic.MilliAmpere, false, false},
		{2600 * physic.MilliAmpere, true, false}, // 130 mV across 50 mΩ, over its 2.5 A limit
		{1638 * physic.MilliAmpere, true, true},  // beyond 163.8 mV across 0.1 Ω: saturated
	} {
		r, err := b.Slots()[i].Sense()
		if err != nil {
			t.Fatal(err)
		}
		if r.Current != tc.current || r.OverCurrent != tc.over || r.Overflow != tc.overflow || r.Voltage != 5*physic.Volt {
			t.Errorf("slot %d: %+v (%s), want %s over=%v overflow=%v", i, r, r, tc.current, tc.over, tc.overflow)
		}
	}
	if got := b.chips["/0x40"]; got == nil || len(b.chips) != 1 {
		t.Fatalf("INA3221 opened %d times", len(b.chips))
	}
}

func TestSimINA3221Missing(t *testing.T) {
	b := openSim(t, ina3221File+"sim: {missing_i2c: [0x40]}\n")
	for _, s := range b.Slots() {
		if _, err := s.Sense(); !errors.Is(err, ina3221.ErrNoDevice) {
			t.Fatalf("%s: %v, want ina3221.ErrNoDevice", s, err)
		}
	}
}

func TestNewSimSpec(t *testing.T) {
	s, err := NewSimSpec("demo", 6)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Halt()
	last := b.Slots()[5]
	if _, err := last.OpenLink(context.Background()); !errors.Is(err, ErrLink) {
		t.Fatalf("link before SetLink: %v", err)
	}
	if err := b.Sim().SetLoad(5, 5*physic.Volt, 500*physic.MilliAmpere); err != nil {
		t.Fatal(err)
	}
	dock(t, b, 5)
	r, err := last.Sense()
	if err != nil || r.Current < 499*physic.MilliAmpere || r.Current > 501*physic.MilliAmpere {
		t.Fatalf("Sense = %s, %v", r, err)
	}
	if _, err := NewSimSpec("x", 0); err == nil {
		t.Fatal("0 slots accepted")
	}
}
