package ingest

import (
	"strconv"
	"strings"
	"time"
)

// Value checks of the JSON Schema's keywords, as santhosh-tekuri/jsonschema
// (the validator the schema tests use) applies them, and of
// encoding/json's number decoding, as wire's decoder applies it.

// intRange is a JSON Schema integer type with minimum and maximum.
type intRange struct {
	lo      int64
	hi      uint64
	signedH bool // hi is an int64 bound (hi <= MaxInt64)
}

var (
	rangeInt     = intRange{lo: -1 << 63, hi: 1<<63 - 1}
	rangeCount   = intRange{lo: 0, hi: 1<<63 - 1}
	rangeUint64  = intRange{lo: 0, hi: 1<<64 - 1}
	rangePercent = intRange{lo: 0, hi: 100}
	rangeSlot    = intRange{lo: 0, hi: 255}
	rangePart    = intRange{lo: 1, hi: 100000}
	rangeFwSlot  = intRange{lo: 0, hi: 1000}
	rangeSize    = intRange{lo: 1, hi: 1<<63 - 1}
	// wire.MeasuredCapacity's bounds (device.health.json's battery.measured).
	rangeMilliAmpHours       = intRange{lo: 1, hi: 1_000_000}
	rangeDesignMilliAmpHours = intRange{lo: 0, hi: 1_000_000}
	rangeMeasuredPct         = intRange{lo: 0, hi: 200}
	rangeIndex               = intRange{lo: 1, hi: 1<<64 - 1}
)

// schemaInt reports whether the number literal raw is a JSON Schema
// integer (its value is whole: 1.0 and 1e2 are) within r. Exponents that
// math/big refuses (|exp| > 1e6 after the fraction) are not numbers to the
// schema validator either.
func schemaInt(raw string, r intRange) bool {
	neg, digits, ok := wholeValue(raw)
	if !ok {
		return false
	}
	if len(digits) > 20 {
		return false // ≥ 1e20: outside every range
	}
	if neg && digits != "0" {
		n, err := strconv.ParseInt("-"+digits, 10, 64)
		return err == nil && n >= r.lo
	}
	u, err := strconv.ParseUint(digits, 10, 64)
	return err == nil && u <= r.hi && (r.lo <= 0 || u >= uint64(r.lo))
}

// wholeValue returns the canonical decimal digits of a whole number literal
// (no leading zeros, "0" for zero), or ok false when it is not whole or is
// beyond math/big's exponent limits.
func wholeValue(raw string) (neg bool, digits string, ok bool) {
	s := raw
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	mant, exp, hasExp := strings.Cut(s, "e")
	if !hasExp {
		mant, exp, hasExp = strings.Cut(s, "E")
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	e := int64(0)
	if hasExp {
		sign := ""
		switch {
		case strings.HasPrefix(exp, "+"):
			exp = exp[1:]
		case strings.HasPrefix(exp, "-"):
			sign, exp = "-", exp[1:]
		}
		exp = strings.TrimLeft(exp, "0")
		if exp == "" {
			exp = "0"
		}
		if len(exp) > 19 {
			return false, "", false // math/big: the exponent overflows int64
		}
		v, err := strconv.ParseInt(sign+exp, 10, 64)
		if err != nil {
			return false, "", false
		}
		e = v
	}
	d := strings.TrimLeft(intPart+frac, "0")
	if d == "" {
		return neg, "0", true // math/big: zero whatever the exponent
	}
	e -= int64(len(frac)) // value = d × 10^e
	if e > 1e6 || e < -1e6 {
		return false, "", false // math/big refuses such exponents
	}
	// Trailing zeros carry into the exponent.
	t := strings.TrimRight(d, "0")
	e += int64(len(d) - len(t))
	if e < 0 {
		return false, "", false
	}
	if int64(len(t))+e > 20 {
		return neg, strings.Repeat("9", 21), true // too large for any range; the digits do not matter
	}
	return neg, t + strings.Repeat("0", int(e)), true
}

// isOne reports whether the number literal raw equals 1 (the envelope's
// "const": 1, compared as the schema validator compares numbers).
func isOne(raw string) bool {
	neg, d, ok := wholeValue(raw)
	return ok && !neg && d == "1"
}

// validID is common.json's id: ^[A-Za-z0-9._-]{1,64}$ and not . or ..
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validSHA is common.json's sha256: ^[0-9a-f]{64}$
func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// zeroTime is common.json's setTime "not" pattern:
// ^0001-01-01T00:00:00(\.0+)?Z$
func zeroTime(s string) bool {
	rest, ok := strings.CutPrefix(s, "0001-01-01T00:00:00")
	if !ok {
		return false
	}
	if r, ok := strings.CutPrefix(rest, "."); ok {
		z := strings.TrimLeft(r, "0")
		if len(z) == len(r) {
			return false
		}
		rest = z
	}
	return rest == "Z"
}

// dateTime is the "date-time" format assertion of
// santhosh-tekuri/jsonschema v6.0.3 (format.go, validateDateTime;
// Apache-2.0), which the schema tests use, reproduced so that the same
// strings pass: RFC 3339, leap seconds allowed at 23:59 UTC.
func dateTime(s string) bool {
	if len(s) < 20 {
		return false
	}
	if s[10] != 't' && s[10] != 'T' {
		return false
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return false
	}
	return timeOfDay(s[11:])
}

func timeOfDay(str string) bool {
	if len(str) < 9 {
		return false
	}
	if str[2] != ':' || str[5] != ':' {
		return false
	}
	var hms [3]int
	for k, tok := range [3]string{str[0:2], str[3:5], str[6:8]} { // SplitN(str[:8], ":", 3)
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 {
			return false
		}
		hms[k] = i
	}
	h, m, s := hms[0], hms[1], hms[2]
	if h > 23 || m > 59 || s > 60 {
		return false
	}
	str = str[8:]
	if rem, ok := strings.CutPrefix(str, "."); ok {
		n := 0
		for _, ch := range rem {
			if ch >= '0' && ch <= '9' {
				n++
			} else {
				break
			}
		}
		if n == 0 {
			return false
		}
		str = rem[n:]
	}
	if str != "z" && str != "Z" {
		if len(str) != 6 {
			return false
		}
		var sign int
		switch str[0] {
		case '+':
			sign = -1
		case '-':
			sign = +1
		default:
			return false
		}
		str = str[1:]
		if str[2] != ':' {
			return false
		}
		var zhm [2]int
		for k, tok := range [2]string{str[:2], str[3:]} { // SplitN(str, ":", 2)
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 {
				return false
			}
			zhm[k] = i
		}
		zh, zm := zhm[0], zhm[1]
		if zh > 23 || zm > 59 {
			return false
		}
		hm := (h*60 + m) + sign*(zh*60+zm)
		if hm < 0 {
			hm += 24 * 60
		}
		h, m = hm/60, hm%60
	}
	if s >= 60 && (h != 23 || m != 59) {
		return false
	}
	return true
}
