package slot

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/firmware-protocol/device/devicetest"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// cell is a simulated single-cell battery on a 5 V slot: constant-current
// charge at chargeMA (battery side) until full, its terminal voltage rising
// with the state of charge, the charger eff efficient. It answers what the
// slot's current sensor and the recorder would report at each tick.
type cell struct {
	capacityMAh float64 // true capacity
	chargeMA    float64
	eff         float64
	soc         float64 // 0..1
	full        bool
}

func (c *cell) battMV() int { return int(3600 + 600*c.soc) }

// reading is the slot's supply reading for the current state.
func (c *cell) reading() chargesense.Reading {
	if c.full {
		return chargesense.Reading{Voltage: 5 * physic.Volt, Current: 30 * physic.MilliAmpere} // the recorder's own idle draw
	}
	inW := c.chargeMA / 1000 * float64(c.battMV()) / 1000 / c.eff
	return chargesense.Reading{Voltage: 5 * physic.Volt, Current: physic.ElectricCurrent(inW / 5 * float64(physic.Ampere))}
}

// step charges for dt.
func (c *cell) step(dt time.Duration) {
	if c.full {
		return
	}
	c.soc += c.chargeMA * dt.Hours() / c.capacityMAh
	if c.soc >= 1 {
		c.soc, c.full = 1, true
	}
}

func (c *cell) pct() int { return int(c.soc * 100) }

// run charges c, ticking the meter every period, until it answers or the
// cell has been full for a while.
func run(t *testing.T, c *cell, m *capacityMeter, period time.Duration, skip func(i int) bool) (est *wire.MeasuredCapacity, reason string) {
	t.Helper()
	now := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	for i := 0; i < 100000; i++ {
		if skip == nil || !skip(i) {
			if e, ok := m.sample(now, c.reading(), c.pct(), c.battMV(), !c.full, c.full); ok {
				return e, ""
			}
			if m.done {
				return nil, m.reason
			}
		}
		c.step(period)
		now = now.Add(period)
	}
	t.Fatal("the meter never finished")
	return nil, ""
}

func TestCapacityMeterMeasuresTheTrueCapacity(t *testing.T) {
	for _, tc := range []struct {
		name        string
		capacity    float64
		design      int
		from        float64
		chargeMA    float64
		eff         float64
		wantPctOfDe int
	}{
		{"healthy from 20%", 2900, 3000, 0.20, 1500, 0.85, 96},
		{"worn from 5%", 1800, 3000, 0.05, 1000, 0.85, 60},
		{"worn from 45%", 1500, 3000, 0.45, 800, 0.85, 50},
		{"other charger efficiency", 2400, 3000, 0.30, 1200, 0.78, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cell{capacityMAh: tc.capacity, chargeMA: tc.chargeMA, eff: tc.eff, soc: tc.from}
			m := newCapacityMeter(BatteryModel{DesignMilliAmpHours: tc.design, Efficiency: tc.eff}, 30*time.Second)
			e, reason := run(t, c, m, 30*time.Second, nil)
			if e == nil {
				t.Fatalf("no estimate: %s", reason)
			}
			est := e
			// Within 3 % of the truth: the recorder's whole-percent
			// rounding at the start and one tick at the end.
			if rel := math.Abs(float64(est.MilliAmpHours)-tc.capacity) / tc.capacity; rel > 0.03 {
				t.Errorf("measured %d mAh, true %.0f (%.1f %% off)", est.MilliAmpHours, tc.capacity, rel*100)
			}
			if d := est.Pct - tc.wantPctOfDe; d < -3 || d > 3 {
				t.Errorf("measured %d %% of design, want about %d", est.Pct, tc.wantPctOfDe)
			}
			if est.DesignMilliAmpHours != tc.design || est.FromPct != int(tc.from*100) || est.ToPct != 100 || est.At.IsZero() {
				t.Errorf("estimate %+v", est)
			}
			// Once per charge.
			if _, ok := m.sample(est.At.Add(time.Minute), c.reading(), 100, c.battMV(), false, true); ok {
				t.Error("a second estimate for the same charge")
			}
		})
	}
}

func TestCapacityMeterUnknownDesign(t *testing.T) {
	c := &cell{capacityMAh: 2000, chargeMA: 1000, eff: DefaultChargeEfficiency, soc: 0.1}
	m := newCapacityMeter(BatteryModel{}, 30*time.Second)
	e, reason := run(t, c, m, 30*time.Second, nil)
	if e == nil {
		t.Fatal(reason)
	}
	if est := e; est.Pct != 0 || est.DesignMilliAmpHours != 0 || est.MilliAmpHours < 1940 || est.MilliAmpHours > 2060 {
		t.Fatalf("estimate %+v, want about 2000 mAh and no share of design", est)
	}
}

// Each guard that keeps a bad measurement out: a test per rule.
func TestCapacityMeterRefusesBadCharges(t *testing.T) {
	period := 30 * time.Second
	for _, tc := range []struct {
		name string
		cell cell
		skip func(i int) bool
		want string
	}{
		{"short span", cell{capacityMAh: 2000, chargeMA: 1000, eff: 0.85, soc: 0.6}, nil, "fewer than 50"},
		{"gap in readings", cell{capacityMAh: 2000, chargeMA: 1000, eff: 0.85, soc: 0.1}, func(i int) bool { return i >= 10 && i < 20 }, "no reading for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cell
			e, reason := run(t, &c, newCapacityMeter(BatteryModel{DesignMilliAmpHours: 2000}, period), period, tc.skip)
			if e != nil || !strings.Contains(reason, tc.want) {
				t.Fatalf("estimate %v, reason %q; want none because %q", e, reason, tc.want)
			}
		})
	}
	t.Run("charging stops part-way", func(t *testing.T) {
		c := &cell{capacityMAh: 2000, chargeMA: 1000, eff: 0.85, soc: 0.1}
		m := newCapacityMeter(BatteryModel{DesignMilliAmpHours: 2000}, period)
		now := time.Now()
		for i := 0; i < 10; i++ {
			m.sample(now, c.reading(), c.pct(), c.battMV(), true, false)
			c.step(period)
			now = now.Add(period)
		}
		if _, ok := m.sample(now, chargesense.Reading{Voltage: 5 * physic.Volt}, c.pct(), c.battMV(), false, false); ok || !m.done ||
			!strings.Contains(m.reason, "stopped charging") {
			t.Fatalf("done %v, reason %q", m.done, m.reason)
		}
	})
	t.Run("overflowed reading", func(t *testing.T) {
		c := &cell{capacityMAh: 2000, chargeMA: 1000, eff: 0.85, soc: 0.1}
		m := newCapacityMeter(BatteryModel{DesignMilliAmpHours: 2000}, period)
		now := time.Now()
		m.sample(now, c.reading(), c.pct(), c.battMV(), true, false)
		if _, ok := m.sample(now.Add(period), chargesense.Reading{Overflow: true}, c.pct(), c.battMV(), true, false); ok || !m.done {
			t.Fatalf("an overflowed reading did not end the measurement: done %v", m.done)
		}
	})
	t.Run("not started at full", func(t *testing.T) {
		m := newCapacityMeter(BatteryModel{DesignMilliAmpHours: 2000}, period)
		c := &cell{capacityMAh: 2000, soc: 1, full: true}
		for i := 0; i < 5; i++ {
			if _, ok := m.sample(time.Now().Add(time.Duration(i)*period), c.reading(), 100, c.battMV(), false, true); ok || m.started {
				t.Fatal("a recorder docked full was measured")
			}
		}
	})
}

// Through the slot: a recorder charging in a slot with a current sensor is
// measured, and its health is reported again with the capacity the dock
// measured beside the one the recorder claims. The charge runs 1800 times
// as fast as real time (an hour in two seconds), so the sensor's current is
// scaled up by as much: the same charge flows over the slot's real ticks.
func TestSlotReportsMeasuredCapacity(t *testing.T) {
	const scale = 1800
	c := &cell{capacityMAh: 1800, chargeMA: 1500, eff: 0.85, soc: 0.15}
	var mu sync.Mutex
	var last time.Time
	var rec *devicetest.Recorder
	r := newRigWith(t, true, func(cfg *Config) {
		cfg.StatusEvery = 100 * time.Millisecond
		cfg.Batteries = map[string]BatteryModel{"devicetest": {DesignMilliAmpHours: 3000, Efficiency: 0.85}}
	}, func(h *hw) {
		rec = h.rec
		h.sense = func() chargesense.Reading {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if !last.IsZero() {
				c.step(now.Sub(last) * scale)
			}
			last = now
			charge := docklink.ChargeCharging
			if c.full {
				charge = docklink.ChargeFull
			}
			rec.SetBattery(docklink.Battery{MilliVolts: uint16(c.battMV()), Percent: uint8(c.pct()), HealthPercent: 95, Cycles: 300,
				TempDeciC: 250, Charge: charge})
			rd := c.reading()
			rd.Current *= scale
			return rd
		}
	})
	rec.SetBattery(docklink.Battery{MilliVolts: uint16(c.battMV()), Percent: uint8(c.pct()), HealthPercent: 95, Charge: docklink.ChargeCharging, TempDeciC: 250})
	r.dock(true)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r.rep.mu.Lock()
		var got *wire.MeasuredCapacity
		var claimed int
		for _, h := range r.rep.health {
			if h.Battery.Measured != nil {
				got, claimed = h.Battery.Measured, h.Battery.HealthPct
			}
		}
		r.rep.mu.Unlock()
		if got != nil {
			if got.MilliAmpHours < 1700 || got.MilliAmpHours > 1900 || got.Pct < 56 || got.Pct > 64 || got.DesignMilliAmpHours != 3000 {
				t.Fatalf("measured %+v, want about 1800 mAh, 60 %% of 3000", got)
			}
			if claimed != 95 {
				t.Fatalf("the recorder's own claim %d%% was not kept beside the measurement", claimed)
			}
			if h, _ := r.slot.Health(); h.Battery.Measured == nil {
				t.Fatal("the slot's health snapshot lacks the measurement")
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no measured capacity reported")
}
