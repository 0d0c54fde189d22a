package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// A dock is told a campaign's pilot only as far as it may know it: the
// serials enrolled to another unit are left out, a pilot with none of its
// recorders is not listed at all (an empty list would mean every
// recorder of the model), and a campaign for every recorder is listed to
// every dock.
func TestFirmwareCampaignsPerDock(t *testing.T) {
	bothBackends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, 0)
		e.enrol(t) // REC-A in unit-1 (dock-1's), REC-B in unit-2
		ctx := context.Background()
		const dockB, tokB = "dock-b", "dock-b-token-0123456789"
		if err := e.st.EnrollDock(ctx, dockB, "unit-2", tokB); err != nil {
			t.Fatal(err)
		}
		sha := strings.Repeat("ab", 32)
		for _, c := range []store.FirmwareCampaign{
			{ID: "mixed", Pilot: []string{"REC-A", "REC-B", "REC-NEW"}},
			{ID: "unit2-only", Pilot: []string{"REC-B"}},
			{ID: "everyone", Pilot: []string{"REC-B"}},
		} {
			c.Model, c.Version, c.Size, c.SHA256, c.Signature, c.Image, c.CreatedBy = "BWC-7", "2.5.0", 10, sha, "c2ln", "/nonexistent/image", "test"
			if err := e.st.CreateFirmwareCampaign(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.st.AdvanceFirmwareCampaign(ctx, "everyone"); err != nil {
			t.Fatal(err)
		}
		list := func(dock, tok string) map[string][]string {
			t.Helper()
			resp, _, body := e.send(t, req{method: "GET", path: upload.FirmwarePath, hdr: map[string]string{upload.HeaderDock: dock, "Authorization": "Bearer " + tok}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", dock, resp.StatusCode, body)
			}
			var cs upload.FirmwareCampaigns
			if err := json.Unmarshal(body, &cs); err != nil {
				t.Fatal(err)
			}
			out := map[string][]string{}
			for _, c := range cs.Campaigns {
				out[c.ID] = c.Serials
			}
			return out
		}
		a := list(testDock, testToken)
		if len(a) != 2 || !slices.Equal(a["mixed"], []string{"REC-A", "REC-NEW"}) || a["everyone"] != nil {
			t.Errorf("dock-1 (unit-1) is told %v; want mixed [REC-A REC-NEW] and everyone, not unit2-only", a)
		}
		bb := list(dockB, tokB)
		if len(bb) != 3 || !slices.Equal(bb["mixed"], []string{"REC-B", "REC-NEW"}) || !slices.Equal(bb["unit2-only"], []string{"REC-B"}) || bb["everyone"] != nil {
			t.Errorf("dock-b (unit-2) is told %v", bb)
		}
	})
}
