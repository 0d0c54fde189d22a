package recsim

import (
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// lowBatteryPercent is where a dying battery raises its alarm (§10.3).
const lowBatteryPercent = 15

// Battery voltage at empty and full charge of a 1-cell Li-ion pack.
const (
	emptyMilliVolts = 3300
	fullMilliVolts  = 4200
)

// batteryModel is the battery: static, or dying (draining linearly from
// its starting charge to empty over dying, whatever the charger does).
type batteryModel struct {
	docklink.Battery
	dying  time.Duration // 0: static
	start  time.Time
	warned bool
}

// at is the battery at true time now.
func (b *batteryModel) at(now time.Time) docklink.Battery {
	if b.dying == 0 {
		return b.Battery
	}
	out := b.Battery
	p0 := float64(b.Percent)
	if b.Percent == docklink.PercentUnknown {
		p0 = 100
	}
	left := 1 - float64(now.Sub(b.start))/float64(b.dying)
	p := max(0, min(p0, p0*left))
	out.Percent = uint8(p + 0.5)
	out.MilliVolts = uint16(emptyMilliVolts + (fullMilliVolts-emptyMilliVolts)*p/100)
	if p == 0 {
		out.MilliVolts = 0
	}
	out.Charge = docklink.ChargeFault // on dock power, not taking charge
	return out
}

// when returns the true time the charge reaches pct (false if never).
func (b *batteryModel) when(pct float64) (time.Time, bool) {
	if b.dying == 0 {
		return time.Time{}, false
	}
	p0 := float64(b.Percent)
	if b.Percent == docklink.PercentUnknown {
		p0 = 100
	}
	if pct > p0 {
		return b.start, true
	}
	if p0 == 0 {
		return b.start, true
	}
	return b.start.Add(time.Duration(float64(b.dying) * (1 - pct/p0))), true
}

// clockModel is the device clock: devAtBase at true time base, running
// (1 + ppm·10⁻⁶) times as fast as true time.
type clockModel struct {
	base      time.Time
	devAtBase time.Time
	ppm       float64
}

func (c *clockModel) at(now time.Time) time.Time {
	el := now.Sub(c.base)
	return c.devAtBase.Add(el + time.Duration(float64(el)*c.ppm/1e6)).UTC()
}
