package slot

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/drivers/chargesense"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// monitorCharge watches the charge while the recorder is docked: it cuts the
// slot's power on over-current (current sensor) or over-temperature (the
// recorder's battery), reports a battery that does not take charge, and
// marks the slot ready once the work is done and the battery is charged.
func (s *Slot) monitorCharge(ctx context.Context, c *docklink.Client) {
	t := s.cfg.Clock.NewTicker(s.cfg.StatusEvery)
	defer t.Stop()
	var notChargingSince time.Time
	reported := false
	var meter *capacityMeter
	if h, ok := s.Health(); ok && s.hw.HasSensor() {
		meter = newCapacityMeter(s.cfg.Batteries[h.Model], s.cfg.StatusEvery)
	}
	for {
		var reading *chargesense.Reading
		if s.hw.HasSensor() && s.pw.On() {
			if r, err := s.hw.Sense(); err != nil {
				s.log.Warn("current sensor", "err", err)
			} else if r.OverCurrent {
				s.cut(FaultOverCurrent, fmt.Sprintf("charge current %s at %s: power cut", r.Current, r.Voltage))
				return
			} else {
				reading = &r
			}
		}
		st, err := c.Status(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Debug("charge monitor status", "err", err)
			}
		} else {
			if meter != nil && reading != nil {
				s.measure(meter, *reading, st.Battery)
			}
			temp := float64(st.Battery.TempDeciC) / 10
			if st.Battery.TempDeciC != docklink.TempUnknown && temp > s.cfg.MaxBatteryTempC {
				s.cut(FaultOverTemp, fmt.Sprintf("battery at %.1f °C (limit %.0f °C): power cut", temp, s.cfg.MaxBatteryTempC))
				return
			}
			charging := st.Battery.Charge == docklink.ChargeCharging
			charged := int(st.Battery.Percent) >= s.cfg.ChargedPct && st.Battery.Percent <= 100 || st.Battery.Charge == docklink.ChargeFull
			s.update(false, func(ss *wire.SlotState) { ss.Charging = charging })
			switch {
			case st.Battery.Charge == docklink.ChargeFault && !reported:
				reported = true
				s.fault(FaultNotCharging, fmt.Sprintf("the recorder reports a charge fault at %d%%", st.Battery.Percent))
			case charged || charging:
				notChargingSince = time.Time{}
			case notChargingSince.IsZero():
				notChargingSince = s.cfg.Clock.Now()
			case !reported && s.cfg.Clock.Now().Sub(notChargingSince) >= s.cfg.NotChargingAfter:
				reported = true
				s.fault(FaultNotCharging, fmt.Sprintf("battery at %d%% has not taken charge for %s", st.Battery.Percent, s.cfg.NotChargingAfter))
			}
			if charged {
				s.update(false, func(ss *wire.SlotState) {
					if ss.State == wire.SlotReleased || ss.State == wire.SlotUploaded {
						ss.State = wire.SlotReady
					}
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
		}
	}
}

// measure feeds the capacity meter one tick and, when it has followed a
// charge to full, reports the recorder's health again with the measured
// capacity and the battery as it is now.
func (s *Slot) measure(m *capacityMeter, r chargesense.Reading, b docklink.Battery) {
	pct := int(b.Percent)
	if b.Percent == docklink.PercentUnknown {
		pct = -1
	}
	was := m.done
	est, ok := m.sample(s.cfg.Clock.Now(), r, pct, int(b.MilliVolts), b.Charge == docklink.ChargeCharging, b.Charge == docklink.ChargeFull)
	if !ok {
		if m.done && !was {
			s.log.Info("battery capacity not measured this charge", "reason", m.reason)
		}
		return
	}
	s.mu.Lock()
	if s.health == nil {
		s.mu.Unlock()
		return
	}
	h := *s.health
	h.Battery.Measured = est
	h.Battery.MilliVolts, h.Battery.Percent = int(b.MilliVolts), min(pct, 100)
	h.Battery.Charging = b.Charge == docklink.ChargeCharging
	s.health = &h
	s.mu.Unlock()
	s.log.Info("battery capacity measured", "serial", h.Serial, "mah", est.MilliAmpHours, "design_mah", est.DesignMilliAmpHours,
		"pct", est.Pct, "claimed_pct", h.Battery.HealthPct, "from_pct", est.FromPct, "to_pct", est.ToPct)
	s.rep.Device(h)
}

// cut switches the slot's charge off and shows the fault.
func (s *Slot) cut(reason, detail string) {
	if err := s.pw.Set(false); err != nil {
		s.log.Error("charge off", "err", err)
	}
	s.fault(reason, detail)
}
