package firmware

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// Fetcher keeps a dock's campaigns in step with the collector's: it reads
// the campaign list from the upload endpoint (the dock's own mutual TLS
// and token), downloads each image once into Dir, checks the vendor
// signature, size and SHA-256, and hands the campaigns (with those of the
// dock's own configuration) to the Updater. A campaign whose manifest the
// vendor key does not verify is skipped and logged.
type Fetcher struct {
	BaseURL, Dock, Token string
	HTTP                 *http.Client // nil: http.DefaultClient
	Dir                  string
	Vendor               ed25519.PublicKey
	Updater              *Updater
	Static               []*Campaign // from the dock's configuration, kept first
	Every                time.Duration
	Log                  *slog.Logger
}

// maxList bounds the campaign list read.
const maxList = 1 << 20

// Run syncs at start and then every Every (default 10 min) until ctx ends.
func (f *Fetcher) Run(ctx context.Context) error {
	every := f.Every
	if every <= 0 {
		every = 10 * time.Minute
	}
	for {
		if err := f.Sync(ctx); err != nil && ctx.Err() == nil {
			f.log().Warn("firmware campaigns not fetched", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// Sync fetches the campaign list and the images not held yet, and sets
// the Updater's campaigns.
func (f *Fetcher) Sync(ctx context.Context) error {
	resp, err := f.get(ctx, upload.FirmwarePath)
	if err != nil {
		return err
	}
	var list upload.FirmwareCampaigns
	err = json.NewDecoder(io.LimitReader(resp.Body, maxList)).Decode(&list)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("firmware: campaign list: %w", err)
	}
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	camps := slices.Clone(f.Static)
	for _, c := range list.Campaigns {
		camp, err := f.campaign(ctx, c)
		if err != nil {
			f.log().Warn("firmware campaign skipped", "campaign", c.ID, "err", err)
			continue
		}
		camps = append(camps, camp)
	}
	f.Updater.SetCampaigns(camps)
	return nil
}

func (f *Fetcher) campaign(ctx context.Context, c upload.FirmwareCampaign) (*Campaign, error) {
	if err := wire.ValidID(c.ID); err != nil {
		return nil, err
	}
	for _, s := range c.Serials {
		if err := wire.ValidID(s); err != nil {
			return nil, err
		}
	}
	m := Manifest{Model: c.Model, Version: c.Version, Size: c.Size, SHA256: c.SHA256, Signature: c.Signature}
	o, err := m.Offer()
	if err != nil {
		return nil, err
	}
	if !verify(f.Vendor, o) {
		return nil, fmt.Errorf("%w: campaign %s (%s %s)", ErrBadSignature, c.ID, c.Model, c.Version)
	}
	base := filepath.Join(f.Dir, strings.ToLower(c.SHA256))
	img, man := base+".bin", base+".json"
	if im, err := LoadImage(img, man, f.Vendor); err == nil {
		return &Campaign{ID: c.ID, Image: im, Serials: c.Serials}, nil
	}
	if !strings.HasPrefix(c.Image, upload.FirmwarePath+"/") {
		return nil, fmt.Errorf("firmware: campaign %s: image path %q outside %s", c.ID, c.Image, upload.FirmwarePath)
	}
	if err := f.download(ctx, c.Image, img, c.Size); err != nil {
		return nil, err
	}
	mb, _ := json.Marshal(m)
	if err := writeDurable(man, mb); err != nil {
		return nil, err
	}
	im, err := LoadImage(img, man, f.Vendor)
	if err != nil {
		os.Remove(img) // not the signed image: fetch it again next time
		return nil, err
	}
	f.log().Info("firmware image fetched", "campaign", c.ID, "version", c.Version, "size", c.Size)
	return &Campaign{ID: c.ID, Image: im, Serials: c.Serials}, nil
}

func (f *Fetcher) get(ctx context.Context, path string) (*http.Response, error) {
	return f.getFrom(ctx, path, 0)
}

// getFrom GETs path, asking for the bytes from offset on when offset > 0:
// the answer is then 206 from exactly there, or 200 with everything.
func (f *Fetcher) getFrom(ctx context.Context, path string, offset int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(f.BaseURL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(upload.HeaderDock, f.Dock)
	if f.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.Token)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	hc := f.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("firmware: GET %s: %w", path, err)
	}
	ok := resp.StatusCode == http.StatusOK
	if offset > 0 && resp.StatusCode == http.StatusPartialContent {
		var start int64
		_, perr := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start)
		ok = perr == nil && start == offset
	}
	if !ok {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("firmware: GET %s from %d: %s %s: %s", path, offset, resp.Status,
			resp.Header.Get("Content-Range"), strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// download writes the image to path, at most size bytes, synced before
// its rename from path+".part". A download cut off (the link, the dock's
// power) resumes from what the part file holds, with a Range request; the
// whole image's signature and SHA-256 are checked after (LoadImage), so a
// part file holding anything else only costs a fresh download.
func (f *Fetcher) download(ctx context.Context, urlPath, path string, size uint64) error {
	part := path + ".part"
	err := func() error {
		fh, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return err
		}
		defer fh.Close()
		held, err := fh.Seek(0, io.SeekEnd)
		if err != nil {
			return err
		}
		if uint64(held) > size {
			if err := fh.Truncate(0); err != nil {
				return err
			}
			held = 0
		}
		if uint64(held) < size {
			resp, err := f.getFrom(ctx, urlPath, held)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK && held > 0 { // the server sent it all again
				if err := fh.Truncate(0); err != nil {
					return err
				}
				held = 0
			}
			if held > 0 {
				f.log().Info("firmware image download resumed", "image", urlPath, "from", held, "size", size)
			}
			n, err := io.Copy(io.NewOffsetWriter(fh, held), io.LimitReader(resp.Body, int64(size)-held+1))
			held += n
			if serr := fh.Sync(); err == nil {
				err = serr
			}
			if err != nil {
				return fmt.Errorf("%d of %d bytes held, resumed next time: %w", held, size, err)
			}
		}
		if uint64(held) != size {
			fh.Truncate(0)
			return fmt.Errorf("%w: %d bytes downloaded, the manifest says %d", ErrImage, held, size)
		}
		return nil
	}()
	if err == nil {
		err = os.Rename(part, path)
	}
	if err != nil {
		return fmt.Errorf("firmware: image %s: %w", urlPath, err)
	}
	return nil
}

func writeDurable(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fw-*")
	if err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("firmware: %w", err)
	}
	return nil
}

func (f *Fetcher) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.New(slog.DiscardHandler)
}
