package slot

import (
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/chargesense"
)

// BatteryModel is what the dock knows of a recorder model's battery, for
// measuring its capacity from the charge current (coulomb counting).
type BatteryModel struct {
	// DesignMilliAmpHours is the battery's rated capacity (0: unknown; the
	// measurement is then reported in mAh only).
	DesignMilliAmpHours int `yaml:"design_mah"`
	// Efficiency is the share of the power drawn at the slot that reaches
	// the battery (the recorder's charger and its own draw while docked);
	// 0: DefaultChargeEfficiency.
	Efficiency float64 `yaml:"efficiency"`
}

// Coulomb counting's defaults and bounds.
const (
	// DefaultChargeEfficiency: a single-cell Li-ion charger from 5 V with
	// the recorder idle is typically 80–90 % efficient.
	DefaultChargeEfficiency = 0.85
	// MinCapacitySpanPct: a charge must raise the state of charge by at
	// least this many points for its capacity to be estimated; over a
	// shorter span the recorder's own percentage rounding and the CV tail
	// dominate the error.
	MinCapacitySpanPct = 50
	// maxSampleGap: a gap between current readings longer than this many
	// monitor periods spoils the integral (a missed reading would count as
	// a straight line across minutes of charge).
	maxSampleGap = 3
)

// capacityMeter integrates the power the slot delivers into a recorder's
// battery over one charge and turns it into a capacity estimate: the
// battery-side charge (power in × efficiency ÷ the battery's own voltage,
// which the recorder reports) divided by the rise in state of charge.
//
// It measures one charge per docking: from the first reading while the
// recorder charges to the first reading at full. A gap in the readings, a
// recorder that stops charging part-way or a span under
// MinCapacitySpanPct ends the measurement without an estimate, with the
// reason kept for the log.
type capacityMeter struct {
	model   BatteryModel
	period  time.Duration
	started bool
	done    bool
	reason  string // why no estimate will come, once done without one

	startPct  int
	last      time.Time
	lastMilli float64 // battery-side current at last, mA
	mAh       float64
}

func newCapacityMeter(m BatteryModel, period time.Duration) *capacityMeter {
	if m.Efficiency <= 0 || m.Efficiency > 1 {
		m.Efficiency = DefaultChargeEfficiency
	}
	return &capacityMeter{model: m, period: period}
}

// sample adds one monitor tick: the slot's reading, the recorder's battery
// (percent, terminal millivolts, charging, full) at time now. It returns an
// estimate once, when a charge the meter followed completes.
func (m *capacityMeter) sample(now time.Time, r chargesense.Reading, pct, battMV int, charging, full bool) (*wire.MeasuredCapacity, bool) {
	if m.done {
		return nil, false
	}
	if r.Overflow || battMV <= 0 || pct < 0 || pct > 100 {
		if m.started {
			m.stop("an unusable reading during the charge")
		}
		return nil, false
	}
	// Battery-side current: P_in · η / V_batt (mW / V = mA).
	milli := float64(r.Voltage) / 1e9 * float64(r.Current) / 1e9 * m.model.Efficiency / (float64(battMV) / 1000) * 1000
	if milli < 0 {
		milli = 0
	}
	if !m.started {
		if !charging || full {
			return nil, false
		}
		m.started, m.startPct, m.last, m.lastMilli = true, pct, now, milli
		return nil, false
	}
	dt := now.Sub(m.last)
	if dt <= 0 {
		return nil, false
	}
	if dt > maxSampleGap*m.period {
		m.stop(fmt.Sprintf("no reading for %s during the charge", dt.Round(time.Second)))
		return nil, false
	}
	m.mAh += (m.lastMilli + milli) / 2 * dt.Hours()
	m.last, m.lastMilli = now, milli
	if full || pct >= 100 {
		span := min(pct, 100) - m.startPct
		if full {
			span = 100 - m.startPct
		}
		if span < MinCapacitySpanPct {
			m.stop(fmt.Sprintf("the charge rose %d points (from %d%%), fewer than %d", span, m.startPct, MinCapacitySpanPct))
			return nil, false
		}
		m.done = true
		est := &wire.MeasuredCapacity{MilliAmpHours: int(m.mAh*100/float64(span) + 0.5), DesignMilliAmpHours: m.model.DesignMilliAmpHours,
			FromPct: m.startPct, ToPct: m.startPct + span, At: now.UTC()}
		if d := m.model.DesignMilliAmpHours; d > 0 {
			est.Pct = min(est.MilliAmpHours*100/d, wire.MaxMeasuredPct)
		}
		return est, true
	}
	if !charging {
		m.stop(fmt.Sprintf("the recorder stopped charging at %d%%", pct))
	}
	return nil, false
}

func (m *capacityMeter) stop(reason string) { m.done, m.reason = true, reason }
