package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/berthdock/berth/agent/firmware"
	"github.com/berthdock/berth/drivers/seriallink"
	"github.com/berthdock/berth/firmware-protocol/conformance"
	"github.com/berthdock/berth/firmware-protocol/docklink"
)

const conformanceUsage = `usage: dockctl conformance (--port PATH | --addr HOST:PORT) [--key [SERIAL=]BASE64]... [--release] [--set-clock] [--timeout 30s] [-v]
       [--fw-image FILE --fw-manifest FILE --fw-vendor-key BASE64 [--fw-install]]

Runs the DockLink v1 conformance suite (firmware-protocol/PROTOCOL.md §15)
against one device and prints a pass/fail table; exits 1 if it does not conform.
  --port      serial port of the recorder (e.g. /dev/serial/by-path/...-usb-0:1.2:1.0, or recsim's pty)
  --addr      TCP address of the device (recsim, or a serial-to-TCP bridge)
  --key       the device's enrolled Ed25519 public key (base64, as recsim prints it); without
              it the signature is checked against the key the device announces
  --release   also RELEASE one verified segment (frees footage on the device!)
  --set-clock also set the device clock to this host's clock
  --fw-image, --fw-manifest, --fw-vendor-key
              a vendor-signed test image the device accepts (§17): the transfer, resume and
              mismatch checks run with it (checked against the vendor key first)
  --fw-install also install it: the device reboots into the test image (or reports a rollback)
`

// anyKey is an enrolled key given without a serial: it answers for
// whatever serial the device announces.
type anyKey struct {
	key    ed25519.PublicKey
	serial docklink.Keys
}

func (k anyKey) PublicKey(serial string) (ed25519.PublicKey, bool) {
	if p, ok := k.serial.PublicKey(serial); ok {
		return p, true
	}
	return k.key, k.key != nil
}

type keyFlag struct{ k *anyKey }

func (f keyFlag) String() string { return "" }

func (f keyFlag) Set(s string) error {
	// A bare key is 44 base64 characters (ending in '=' padding);
	// anything else is SERIAL=KEY.
	serial, b64 := "", s
	if _, err := base64.StdEncoding.DecodeString(s); err != nil || len(s) != 44 {
		var ok bool
		if serial, b64, ok = strings.Cut(s, "="); !ok || serial == "" {
			return fmt.Errorf("%q: want BASE64 or SERIAL=BASE64", s)
		}
	}
	pub, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%q is not a base64 Ed25519 public key", b64)
	}
	if serial == "" {
		f.k.key = pub
		return nil
	}
	if f.k.serial == nil {
		f.k.serial = docklink.Keys{}
	}
	f.k.serial[serial] = pub
	return nil
}

// runConformance runs the suite against the device at --port or --addr.
// It returns 0 when the device conforms, 1 when it does not (or cannot
// be reached), 2 on usage errors.
func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dockctl conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, conformanceUsage) }
	port := fs.String("port", "", "serial port path")
	addr := fs.String("addr", "", "TCP address")
	var keys anyKey
	fs.Var(keyFlag{&keys}, "key", "enrolled public key, [SERIAL=]BASE64 (repeatable)")
	release := fs.Bool("release", false, "also release one verified segment")
	setClock := fs.Bool("set-clock", false, "also set the device clock")
	timeout := fs.Duration("timeout", 30*time.Second, "per-check timeout (footage checks get more per byte held)")
	verbose := fs.Bool("v", false, "log each check as it runs")
	fwImage := fs.String("fw-image", "", "vendor-signed test firmware image")
	fwManifest := fs.String("fw-manifest", "", "its signed manifest (JSON)")
	fwVendor := fs.String("fw-vendor-key", "", "the vendor's Ed25519 public key, base64")
	fwInstall := fs.Bool("fw-install", false, "also install the test image (the device reboots)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*port == "") == (*addr == "") || fs.NArg() > 0 {
		fmt.Fprint(stderr, conformanceUsage)
		return 2
	}
	var dial conformance.Dialer
	target := *addr
	if *port != "" {
		target = *port
		dial = conformance.Settled(func(context.Context) (io.ReadWriteCloser, error) { return seriallink.Open(*port, nil) },
			conformance.LineSettle)
	} else {
		dial = func(ctx context.Context) (io.ReadWriteCloser, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", *addr)
		}
	}
	opts := &conformance.Opts{Release: *release, SetClock: *setClock, CheckTimeout: *timeout, FirmwareInstall: *fwInstall}
	if *fwImage != "" || *fwManifest != "" || *fwVendor != "" || *fwInstall {
		img, err := loadTestImage(*fwImage, *fwManifest, *fwVendor)
		if err != nil {
			fmt.Fprintf(stderr, "dockctl conformance: %v\n", err)
			return 2
		}
		opts.Firmware = img
	}
	if keys.key != nil || keys.serial != nil {
		opts.Keys = keys
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	fmt.Fprintf(stdout, "conformance of the device at %s\n", target)
	rep := conformance.Run(ctx, dial, opts)
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "dockctl conformance: %v\n", err)
		return 1
	}
	if !rep.Passed() {
		return 1
	}
	return 0
}

// loadTestImage reads a vendor-signed test image after checking it with
// the vendor key, as a dock would before offering it.
func loadTestImage(image, manifest, vendorKey string) (*conformance.Image, error) {
	if image == "" || manifest == "" || vendorKey == "" {
		return nil, fmt.Errorf("--fw-image, --fw-manifest and --fw-vendor-key go together")
	}
	vendor, err := firmware.ParseVendorKey(vendorKey)
	if err != nil {
		return nil, err
	}
	img, err := firmware.LoadImage(image, manifest, vendor)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(image)
	if err != nil {
		return nil, err
	}
	return &conformance.Image{Offer: img.Offer, Bytes: b}, nil
}
