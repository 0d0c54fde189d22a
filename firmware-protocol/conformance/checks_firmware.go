package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// Image is a firmware image the device under test accepts: its bytes and
// its offer, signed by the vendor key the device trusts (§17.2). The
// vendor supplies one for its test build; recsim's is signed with
// recsim.VendorKey.
type Image struct {
	Offer docklink.FwOffer
	Bytes []byte
}

// firmwareChecks run after the others (checks appends them).
var firmwareChecks = []check{
	{"§17.6", "FW_STATUS answered; running version equals HELLO_ACK's", false, checkFwStatus},
	{"§17.3", "FW_OFFER with a bad signature refused BAD_SIGNATURE; FW_WRITE and FW_COMMIT without an offer refused NO_OFFER", false, checkFwRefusals},
	{"§17.5", "image with altered bytes refused IMAGE_MISMATCH at FW_COMMIT, nothing pending", false, checkFwMismatch},
	{"§17.4", "transfer resumed on a new link at the held offset reported by FW_OFFER_ACK", false, checkFwResume},
	{"§17.7", "image installed at the reboot after FW_COMMIT, result reported (opt-in)", false, checkFwInstall},
}

func init() { checks = append(checks, firmwareChecks...) }

func (e *env) fwSession(ctx context.Context, needImage bool) (*docklink.Client, func(), error) {
	if !e.has(docklink.CapFirmware) {
		return nil, nil, skip("device does not offer FIRMWARE")
	}
	if needImage && e.o.Firmware == nil {
		return nil, nil, skip("no signed test image given (Opts.Firmware)")
	}
	return e.session(ctx, true)
}

func checkFwStatus(ctx context.Context, e *env) (string, error) {
	c, done, err := e.fwSession(ctx, false)
	if err != nil {
		return "", err
	}
	defer done()
	st, err := c.FirmwareStatus(ctx)
	if err != nil {
		return "", err
	}
	if st.Running != e.info.Firmware {
		return "", fmt.Errorf("FW_STATUS running %q, HELLO_ACK firmware %q", st.Running, e.info.Firmware)
	}
	return fmt.Sprintf("running %s, last result %s", st.Running, st.Result), nil
}

func checkFwRefusals(ctx context.Context, e *env) (string, error) {
	c, done, err := e.fwSession(ctx, false)
	if err != nil {
		return "", err
	}
	defer done()
	o := docklink.FwOffer{Model: e.info.Model, Version: "0.0.0-conformance", Size: 16}
	for i := range o.Signature {
		o.Signature[i] = byte(i)
	}
	if _, err := c.OfferFirmware(ctx, o); !docklink.IsCode(err, docklink.CodeBadSignature) {
		return "FW_OFFER with a made-up signature", fmt.Errorf("got %v, want ERROR BAD_SIGNATURE", err)
	}
	if _, err := c.Do(ctx, &docklink.FwWrite{Offset: 0, Bytes: []byte{1}}); !docklink.IsCode(err, docklink.CodeNoOffer) {
		return "FW_WRITE without an offer", fmt.Errorf("got %v, want ERROR NO_OFFER", err)
	}
	if _, err := c.CommitFirmware(ctx, o.SHA256, false); !docklink.IsCode(err, docklink.CodeNoOffer) {
		return "FW_COMMIT without an offer", fmt.Errorf("got %v, want ERROR NO_OFFER", err)
	}
	return "", nil
}

func checkFwMismatch(ctx context.Context, e *env) (string, error) {
	c, done, err := e.fwSession(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	img := e.o.Firmware
	ack, err := c.OfferFirmware(ctx, img.Offer)
	if err != nil {
		return "FW_OFFER of the test image", err
	}
	bad := bytes.Clone(img.Bytes)
	bad[len(bad)-1] ^= 0x01
	if ack.Held == img.Offer.Size {
		return "", errors.New("the device already holds the whole test image; run again after a fresh start")
	}
	if _, err := c.WriteFirmware(ctx, bytes.NewReader(bad), img.Offer.Size, ack.Held, ack.MaxWrite, nil); err != nil {
		return "FW_WRITE", err
	}
	if _, err := c.CommitFirmware(ctx, img.Offer.SHA256, false); !docklink.IsCode(err, docklink.CodeImageMismatch) {
		return "FW_COMMIT of altered bytes", fmt.Errorf("got %v, want ERROR IMAGE_MISMATCH", err)
	}
	st, err := c.FirmwareStatus(ctx)
	if err != nil {
		return "", err
	}
	if st.Pending != "" || st.StagedHeld != 0 {
		return "", fmt.Errorf("after IMAGE_MISMATCH: pending %q, %d bytes staged; want none", st.Pending, st.StagedHeld)
	}
	return "", nil
}

func checkFwResume(ctx context.Context, e *env) (string, error) {
	img := e.o.Firmware
	c, done, err := e.fwSession(ctx, true)
	if err != nil {
		return "", err
	}
	ack, err := c.OfferFirmware(ctx, img.Offer)
	if err != nil {
		done()
		return "FW_OFFER", err
	}
	half := img.Offer.Size / 2
	held, err := c.WriteFirmware(ctx, bytes.NewReader(img.Bytes[:half]), half, ack.Held, ack.MaxWrite, nil)
	done() // the link ends mid-transfer
	if err != nil {
		return "FW_WRITE of the first half", err
	}
	c, done, err = e.fwSession(ctx, true)
	if err != nil {
		return "", err
	}
	defer done()
	st, err := c.FirmwareStatus(ctx)
	if err != nil {
		return "", err
	}
	if st.StagedSHA256 != img.Offer.SHA256 || st.StagedHeld != held {
		return "FW_STATUS on the new link", fmt.Errorf("staged %x with %d bytes, want %x with %d", st.StagedSHA256[:4], st.StagedHeld, img.Offer.SHA256[:4], held)
	}
	ack, err = c.OfferFirmware(ctx, img.Offer)
	if err != nil {
		return "FW_OFFER again", err
	}
	if ack.Held != held {
		return "FW_OFFER_ACK on the new link", fmt.Errorf("held %d, %d were acknowledged", ack.Held, held)
	}
	if n, err := c.WriteFirmware(ctx, bytes.NewReader(img.Bytes), img.Offer.Size, ack.Held, ack.MaxWrite, nil); err != nil || n != img.Offer.Size {
		return "FW_WRITE of the rest", fmt.Errorf("%d bytes held: %w", n, err)
	}
	e.fwStaged = true
	return fmt.Sprintf("resumed at %d of %d bytes", held, img.Offer.Size), nil
}

func checkFwInstall(ctx context.Context, e *env) (string, error) {
	if !e.o.FirmwareInstall {
		return "", skip("not opted in: it installs the test image and reboots the device")
	}
	img := e.o.Firmware
	c, done, err := e.fwSession(ctx, true)
	if err != nil {
		return "", err
	}
	if !e.fwStaged {
		done()
		return "", skip("the resume check did not stage the image")
	}
	if img.Offer.Version == e.info.Firmware {
		done()
		return "", skip("the device already runs %s", img.Offer.Version)
	}
	if _, err := c.OfferFirmware(ctx, img.Offer); err != nil {
		done()
		return "FW_OFFER", err
	}
	v, err := c.CommitFirmware(ctx, img.Offer.SHA256, true)
	if err != nil {
		done()
		return "FW_COMMIT", err
	}
	if v != img.Offer.Version {
		done()
		return "FW_COMMIT_ACK", fmt.Errorf("version %q boots next, want %q", v, img.Offer.Version)
	}
	select { // the device reboots: its link ends
	case <-c.Done():
	case <-ctx.Done():
		done()
		return "waiting for the reboot to end the link", ctx.Err()
	}
	done()
	c, done, err = e.fwSession(ctx, false)
	if err != nil {
		return "new link after the reboot", err
	}
	defer done()
	st, err := c.FirmwareStatus(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case st.ResultVersion != img.Offer.Version || st.Result == docklink.FwResultNone:
		return "", fmt.Errorf("FW_STATUS after the reboot reports %s of %q, want the result for %q", st.Result, st.ResultVersion, img.Offer.Version)
	case st.Result == docklink.FwResultInstalled && (st.Running != img.Offer.Version || e.info.Firmware != img.Offer.Version):
		return "", fmt.Errorf("installed, but running %q (HELLO_ACK %q)", st.Running, e.info.Firmware)
	case st.Result != docklink.FwResultInstalled && st.Running == img.Offer.Version:
		return "", fmt.Errorf("result %s, yet running %q", st.Result, st.Running)
	}
	return fmt.Sprintf("%s %s, running %s", st.Result, st.ResultVersion, st.Running), nil
}
