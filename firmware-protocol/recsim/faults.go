package recsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// FaultKind names an injected fault.
type FaultKind int

// Faults a Recorder can inject. Link faults (Disconnect, CorruptFrame)
// fire once per Recorder, so the session after the fault is whole, as
// after a real cable pull or line noise.
const (
	// FaultDisconnect cuts the link once the device has sent N bytes in a
	// session (the first session that gets that far): a recorder pulled
	// from its slot mid-read. The next link is a new session.
	FaultDisconnect FaultKind = iota + 1
	// FaultCorruptFrame flips one byte of the Nth frame the device sends
	// (counted from 1 over the recorder's life), so its CRC fails (§3.4).
	FaultCorruptFrame
	// FaultWrongHash makes the recorded SHA-256 of segment N differ from
	// its content (a recorder bug, or tampering: §9.3).
	FaultWrongHash
	// FaultMissingSeq removes segment N from the inventory while last_seq
	// still covers it: footage lost or deleted outside the protocol (§9.2).
	FaultMissingSeq
	// FaultDyingBattery drains the battery from its level to empty over
	// Duration (default 10 min) whatever the charger does; at empty the
	// recorder powers off: its link drops and it answers nothing more.
	FaultDyingBattery
	// FaultAuth signs challenges with a key other than the device's, so
	// authentication fails (§6.2).
	FaultAuth
	// FaultFwPowerLoss cuts power once the recorder holds N bytes of a
	// firmware image being received (§17.4): the write that crosses N
	// keeps the bytes below it, is not answered, and the link drops. The
	// bytes held survive, so the next offer resumes at N. Fires once.
	FaultFwPowerLoss
	// FaultFwBootFail makes a pending image fail its boot self-test
	// (Version, or any version if empty): the recorder rolls back to the
	// running image and reports it (§17.7).
	FaultFwBootFail
	// FaultFwVendorKey makes the recorder trust another vendor key, so
	// every image signed with VendorKey() is refused BAD_SIGNATURE (§17.3).
	FaultFwVendorKey
)

var faultNames = map[FaultKind]string{
	FaultDisconnect: "disconnect", FaultCorruptFrame: "corrupt-frame", FaultWrongHash: "wrong-hash",
	FaultMissingSeq: "missing-seq", FaultDyingBattery: "dying-battery", FaultAuth: "auth",
	FaultFwPowerLoss: "fw-power-loss", FaultFwBootFail: "fw-boot-fail", FaultFwVendorKey: "fw-vendor-key",
}

func (k FaultKind) String() string {
	if s, ok := faultNames[k]; ok {
		return s
	}
	return fmt.Sprintf("fault(%d)", int(k))
}

// Fault is one injected fault. N is the byte count (Disconnect,
// FwPowerLoss), frame number (CorruptFrame) or segment seq (WrongHash,
// MissingSeq); Duration is the time to empty (DyingBattery); Version the
// image that fails to boot (FwBootFail, "" for any).
type Fault struct {
	Kind     FaultKind
	N        uint64
	Duration time.Duration
	Version  string
}

// ErrFault wraps a fault description that cannot be parsed or applied.
var ErrFault = errors.New("recsim: bad fault")

// DefaultDyingBattery is how long a dying battery lasts when not told.
const DefaultDyingBattery = 10 * time.Minute

// ParseFault parses the command-line form name[=arg]:
//
//	disconnect=BYTES       cut the link after BYTES sent in a session (k, M, G suffixes: KiB, MiB, GiB)
//	corrupt-frame=N        flip a byte of the Nth frame sent (default 1)
//	wrong-hash=SEQ         recorded hash of segment SEQ differs from its bytes
//	missing-seq=SEQ        segment SEQ is missing (a hole)
//	dying-battery[=DUR]    battery empties over DUR (default 10m), then the recorder powers off
//	auth                   signs with the wrong key
//	fw-power-loss=BYTES    power fails once BYTES of a firmware image are held (k, M, G suffixes)
//	fw-boot-fail[=VERSION] a pending image (VERSION, or any) fails to boot: rollback
//	fw-vendor-key          trusts another vendor key: images are refused BAD_SIGNATURE
func ParseFault(s string) (Fault, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), "=")
	var f Fault
	for k, n := range faultNames {
		if n == name {
			f.Kind = k
		}
	}
	if f.Kind == 0 {
		return Fault{}, fmt.Errorf("%w: %q: unknown fault (disconnect, corrupt-frame, wrong-hash, missing-seq, dying-battery, auth, fw-power-loss, fw-boot-fail, fw-vendor-key)", ErrFault, s)
	}
	switch f.Kind {
	case FaultAuth, FaultFwVendorKey:
		if hasArg {
			return Fault{}, fmt.Errorf("%w: %q: %s takes no argument", ErrFault, s, name)
		}
	case FaultFwBootFail:
		if hasArg && (arg == "" || len(arg) > docklink.MaxString) {
			return Fault{}, fmt.Errorf("%w: %q: want fw-boot-fail or fw-boot-fail=VERSION", ErrFault, s)
		}
		f.Version = arg
	case FaultDyingBattery:
		f.Duration = DefaultDyingBattery
		if hasArg {
			d, err := time.ParseDuration(arg)
			if err != nil || d <= 0 {
				return Fault{}, fmt.Errorf("%w: %q: want a positive duration such as 30m", ErrFault, s)
			}
			f.Duration = d
		}
	case FaultCorruptFrame:
		f.N = 1
		if hasArg {
			n, err := strconv.ParseUint(arg, 10, 64)
			if err != nil || n == 0 {
				return Fault{}, fmt.Errorf("%w: %q: want a frame number >= 1", ErrFault, s)
			}
			f.N = n
		}
	case FaultDisconnect, FaultFwPowerLoss:
		n, err := parseBytes(arg)
		if !hasArg || err != nil || n == 0 {
			return Fault{}, fmt.Errorf("%w: %q: want %s=BYTES, e.g. %s=4M", ErrFault, s, name, name)
		}
		f.N = n
	default: // wrong-hash, missing-seq
		n, err := strconv.ParseUint(arg, 10, 64)
		if !hasArg || err != nil || n == 0 {
			return Fault{}, fmt.Errorf("%w: %q: want %s=SEQ with SEQ >= 1", ErrFault, s, name)
		}
		f.N = n
	}
	return f, nil
}

// String is the ParseFault form.
func (f Fault) String() string {
	switch f.Kind {
	case FaultAuth, FaultFwVendorKey:
		return f.Kind.String()
	case FaultFwBootFail:
		if f.Version == "" {
			return f.Kind.String()
		}
		return fmt.Sprintf("%s=%s", f.Kind, f.Version)
	case FaultDyingBattery:
		return fmt.Sprintf("%s=%s", f.Kind, f.Duration)
	}
	return fmt.Sprintf("%s=%d", f.Kind, f.N)
}

// parseBytes parses a byte count with an optional k/M/G (binary) suffix.
func parseBytes(s string) (uint64, error) {
	mult := uint64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > (1<<63)/mult {
		return 0, fmt.Errorf("%s: too large", s)
	}
	return n * mult, nil
}
