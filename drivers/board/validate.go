package board

import (
	"fmt"
	"regexp"
	"strconv"
)

// piPin matches the Raspberry Pi's BCM names for the 40-pin header
// (GPIO0-GPIO27), the names both the Pi 4 and the Pi 5 (RP1) give their
// GPIO character-device lines.
var piPin = regexp.MustCompile(`^GPIO([0-9]|1[0-9]|2[0-7])$`)

// piReserved names header pins taken by the buses a board may use.
var piReserved = map[string]struct{ bus, fn string }{
	"GPIO2":  {"i2c", "I2C1 SDA"},
	"GPIO3":  {"i2c", "I2C1 SCL"},
	"GPIO10": {"spi", "SPI0 MOSI"},
	"GPIO11": {"spi", "SPI0 SCLK"},
}

// use is where a pin, pixel, path or address was first claimed.
type use struct {
	field string
}

func (p *parser) validate(s *Spec) {
	usesI2C, usesSPI := false, s.LEDs.Type == LEDAPA102 || s.LEDs.Type == LEDWS2812 || s.CardReader != nil
	for _, sl := range s.Slots {
		if sl.Current != nil {
			usesI2C = true
		}
	}
	pins := map[string]use{}
	claimPin := func(field string, pin Pin) {
		if pin.Name == "" {
			return // already reported as missing
		}
		if s.Kind == KindRPi4 || s.Kind == KindRPi5 {
			if !piPin.MatchString(pin.Name) {
				p.fail(pin.Line, field, "unknown pin %q (Raspberry Pi header pins are GPIO0 to GPIO27)", pin.Name)
				return
			}
			if r, ok := piReserved[pin.Name]; ok && ((r.bus == "i2c" && usesI2C) || (r.bus == "spi" && usesSPI)) {
				p.fail(pin.Line, field, "pin %s is %s, used by the board's %s devices", pin.Name, r.fn, r.bus)
				return
			}
		}
		if u, ok := pins[pin.Name]; ok {
			p.fail(pin.Line, field, "pin %s already used by %s", pin.Name, u.field)
			return
		}
		pins[pin.Name] = use{field}
	}
	names := map[string]use{}
	pixels := map[int]use{}
	paths := map[string]use{}
	sensors := map[string]use{}
	chips := map[string]struct{ kind, field string }{}
	if c := s.CardReader; c != nil {
		claimPin("card_reader.reset", c.Reset)
		claimPin("card_reader.irq", c.IRQ)
		if c.SPI != "" && c.SPI == s.LEDs.SPI && usesStrip(s) {
			p.fail(c.Line, "card_reader.spi", "SPI port %s already used by leds.spi", c.SPI)
		}
	}
	for i, sl := range s.Slots {
		at := fmt.Sprintf("slots[%d]", i)
		if sl.Name != "" {
			if u, ok := names[sl.Name]; ok {
				p.fail(sl.Line, at+".name", "name %q already used by %s", sl.Name, u.field)
			}
			names[sl.Name] = use{at + ".name"}
		}
		claimPin(at+".charge.pin", sl.Charge.Pin)
		claimPin(at+".presence.pin", sl.Presence.Pin)
		switch s.LEDs.Type {
		case LEDGPIO:
			if len(sl.LED.Pins) != 1 && len(sl.LED.Pins) != 3 {
				p.fail(sl.LED.Line, at+".led.pins", "gpio LEDs need 1 pin or 3 pins (red, green, blue), got %d", len(sl.LED.Pins))
			}
			if sl.LED.Pixel >= 0 {
				p.fail(sl.LED.Line, at+".led.pixel", "pixel is for LED strips; this board's LEDs are gpio")
			}
			for j, pin := range sl.LED.Pins {
				claimPin(at+".led.pins["+strconv.Itoa(j)+"]", pin)
			}
		case LEDAPA102, LEDWS2812:
			if len(sl.LED.Pins) > 0 {
				p.fail(sl.LED.Line, at+".led.pins", "pins are for gpio LEDs; this board's LEDs are a %s strip", s.LEDs.Type)
			}
			switch {
			case sl.LED.Pixel < 0:
				p.fail(sl.LED.Line, at+".led.pixel", "missing")
			case sl.LED.Pixel >= s.LEDs.Pixels:
				p.fail(sl.LED.Line, at+".led.pixel", "pixel %d outside the strip's %d pixels", sl.LED.Pixel, s.LEDs.Pixels)
			default:
				if u, ok := pixels[sl.LED.Pixel]; ok {
					p.fail(sl.LED.Line, at+".led.pixel", "pixel %d already used by %s", sl.LED.Pixel, u.field)
				}
				pixels[sl.LED.Pixel] = use{at + ".led.pixel"}
			}
		}
		if c := sl.Current; c != nil {
			chip := fmt.Sprintf("bus %q address %#x", c.Bus, c.Address)
			key := chip
			if c.Type == SensorINA3221 {
				key = fmt.Sprintf("%s channel %d", chip, c.Channel)
			}
			if t, ok := chips[chip]; ok && t.kind != c.Type {
				p.fail(c.Line, at+".current.type", "%s on %s, but %s says that chip is an %s", c.Type, chip, t.field, t.kind)
			} else if !ok {
				chips[chip] = struct{ kind, field string }{c.Type, at + ".current"}
			}
			if u, ok := sensors[key]; ok {
				p.fail(c.Line, at+".current.address", "sensor on %s already used by %s", key, u.field)
			}
			sensors[key] = use{at + ".current"}
		}
		if sl.Serial.TCP != "" && s.Kind != KindSim {
			p.fail(sl.Serial.Line, at+".serial.tcp", "tcp links exist only on the simulated board (kind: sim)")
		}
		if st := sl.Storage; st != nil && st.Path != "" {
			if u, ok := paths[st.Path]; ok {
				p.fail(st.Line, at+".storage.path", "%s already used by %s", st.Path, u.field)
			}
			paths[st.Path] = use{at + ".storage.path"}
		}
		for _, v := range []struct{ field, val string }{{"path", sl.Serial.Path}, {"tcp", sl.Serial.TCP}} {
			if v.val == "" {
				continue
			}
			if u, ok := paths[v.val]; ok {
				p.fail(sl.Serial.Line, at+".serial."+v.field, "%s already used by %s", v.val, u.field)
			}
			paths[v.val] = use{at + ".serial." + v.field}
		}
	}
}

func usesStrip(s *Spec) bool { return s.LEDs.Type == LEDAPA102 || s.LEDs.Type == LEDWS2812 }
