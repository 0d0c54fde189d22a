// Package firmware updates docked recorders' firmware over DockLink
// (firmware-protocol/PROTOCOL.md §17), as a campaign says, and only once
// the recorder's footage is safe in the dock's buffer (the slot calls Step
// after the copy; see agent/slot).
//
// An image is a file and its manifest: model, version, size, SHA-256 and
// the vendor's Ed25519 signature (§17.2). The dock checks the signature
// with the vendor key it is configured with and the file's hash before it
// offers anything, so a tampered or truncated image never reaches a
// recorder; the recorder checks both again with its own copy of the key.
package firmware

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// MaxImage bounds an image file (recorder firmware is a few MiB).
const MaxImage = 256 << 20

// maxManifest bounds a manifest file read.
const maxManifest = 64 << 10

// Errors of loading an image; each names the file.
var (
	ErrManifest     = errors.New("firmware: bad image manifest")
	ErrBadSignature = errors.New("firmware: image signature does not verify with the vendor key")
	ErrImage        = errors.New("firmware: image file does not match its manifest")
)

// Manifest describes an image: the JSON file shipped beside it.
type Manifest struct {
	Model     string `json:"model"`
	Version   string `json:"version"`
	Size      uint64 `json:"size"`
	SHA256    string `json:"sha256"`    // hex
	Signature string `json:"signature"` // standard base64 of the Ed25519 signature (§17.2)
}

// Image is a verified image: its offer and the file holding its bytes.
type Image struct {
	Offer docklink.FwOffer
	Path  string
}

// NewManifest signs an image's description with the vendor key (the
// vendor's build step; tests and demos use it with a test key).
func NewManifest(vendor ed25519.PrivateKey, model, version string, img []byte) Manifest {
	sum := sha256.Sum256(img)
	sig := docklink.SignFirmware(vendor, model, version, uint64(len(img)), sum)
	return Manifest{Model: model, Version: version, Size: uint64(len(img)), SHA256: hex.EncodeToString(sum[:]),
		Signature: base64.StdEncoding.EncodeToString(sig[:])}
}

// Offer converts the manifest to the FW_OFFER it describes.
func (m Manifest) Offer() (docklink.FwOffer, error) {
	o := docklink.FwOffer{Model: m.Model, Version: m.Version, Size: m.Size}
	if m.Model == "" || len(m.Model) > docklink.MaxString || m.Version == "" || len(m.Version) > docklink.MaxString {
		return o, fmt.Errorf("%w: model and version must be 1..%d bytes", ErrManifest, docklink.MaxString)
	}
	if m.Size == 0 || m.Size > MaxImage {
		return o, fmt.Errorf("%w: size %d outside 1..%d", ErrManifest, m.Size, MaxImage)
	}
	sum, err := hex.DecodeString(m.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return o, fmt.Errorf("%w: sha256 %q is not 64 hex digits", ErrManifest, m.SHA256)
	}
	copy(o.SHA256[:], sum)
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return o, fmt.Errorf("%w: signature is not %d bytes of base64", ErrManifest, ed25519.SignatureSize)
	}
	copy(o.Signature[:], sig)
	return o, nil
}

// LoadImage reads a manifest, checks its signature with the vendor key,
// and checks that the image file has exactly the size and SHA-256 it
// names.
func LoadImage(imagePath, manifestPath string, vendor ed25519.PublicKey) (*Image, error) {
	b, err := readLimited(manifestPath, maxManifest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrManifest, manifestPath, err)
	}
	o, err := m.Offer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath, err)
	}
	if !docklink.VerifyFirmware(vendor, &o) {
		return nil, fmt.Errorf("%w: %s (%s %s)", ErrBadSignature, manifestPath, o.Model, o.Version)
	}
	f, err := os.Open(imagePath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrImage, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, MaxImage+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrImage, imagePath, err)
	}
	if uint64(n) != o.Size || [32]byte(h.Sum(nil)) != o.SHA256 {
		return nil, fmt.Errorf("%w: %s: %d bytes hashing to %x; the manifest says %d bytes, %x", ErrImage, imagePath, n, h.Sum(nil), o.Size, o.SHA256)
	}
	return &Image{Offer: o, Path: imagePath}, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: above %d bytes", path, limit)
	}
	return b, nil
}

func verify(vendor ed25519.PublicKey, o docklink.FwOffer) bool {
	return docklink.VerifyFirmware(vendor, &o)
}
