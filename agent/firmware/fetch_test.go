package firmware

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// An image download cut off part-way resumes from the bytes the dock holds
// (a Range request, answered 206 by the collector's http.ServeContent);
// a server that answers the Range with the whole image again is followed;
// and the image is used only once whole and signed.
func TestFetchResumesImageDownload(t *testing.T) {
	img := make([]byte, 300_000)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	m := NewManifest(recsim.VendorKey(), "BWC-X", "9.9.9", img)
	camp := upload.FirmwareCampaign{ID: "fw-resume", Model: m.Model, Version: m.Version, Size: m.Size, SHA256: m.SHA256,
		Signature: m.Signature, Image: upload.FirmwareImagePath("fw-resume")}

	var mu sync.Mutex
	var ranges []string
	cutAt := len(img) / 3
	ignoreRange := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case upload.FirmwarePath:
			json.NewEncoder(w).Encode(upload.FirmwareCampaigns{Campaigns: []upload.FirmwareCampaign{camp}})
		case camp.Image:
			mu.Lock()
			ranges = append(ranges, r.Header.Get("Range"))
			n, ignore := len(ranges), ignoreRange
			mu.Unlock()
			if n == 1 { // the first answer breaks off a third of the way
				w.Header().Set("Content-Length", strconv.Itoa(len(img)))
				w.Write(img[:cutAt])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			if ignore {
				r.Header.Del("Range")
			}
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(img))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	u := &Updater{Report: func(wire.FirmwareProgress) {}}
	f := &Fetcher{BaseURL: srv.URL, Dock: "dock-1", Dir: dir, Vendor: vendorPub(), Updater: u}
	ctx := context.Background()
	if err := f.Sync(ctx); err != nil { // the campaign is skipped (logged), not an error
		t.Fatal(err)
	}
	if len(u.campaigns) != 0 {
		t.Fatal("a campaign was set up from a broken download")
	}
	part := filepath.Join(dir, m.SHA256+".bin.part")
	if st, err := os.Stat(part); err != nil || st.Size() != int64(cutAt) {
		t.Fatalf("part file after the cut: %v %v; want %d bytes held", st, err, cutAt)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(u.campaigns) != 1 || u.campaigns[0].ID != "fw-resume" {
		t.Fatalf("campaigns after the resumed download: %+v", u.campaigns)
	}
	got, err := os.ReadFile(u.campaigns[0].Image.Path)
	if err != nil || !bytes.Equal(got, img) {
		t.Fatalf("image on disk differs (%v)", err)
	}
	if want := "bytes=" + strconv.Itoa(cutAt) + "-"; len(ranges) != 2 || ranges[0] != "" || ranges[1] != want {
		t.Fatalf("requests' ranges %q; want none, then %q", ranges, want)
	}

	// A server that ignores Range sends the whole image again: the part
	// file starts over rather than appending it.
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o750)
	mu.Lock()
	ranges, ignoreRange = nil, true
	mu.Unlock()
	u.SetCampaigns(nil)
	f.Sync(ctx)
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(u.campaigns) != 1 {
		t.Fatalf("campaigns after a download the server sent whole again: %+v", u.campaigns)
	}
	if got, err := os.ReadFile(u.campaigns[0].Image.Path); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("image on disk differs after a whole resend (%v)", err)
	}
}
