package firmware

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/berthdock/berth/firmware-protocol/recsim"
)

// FuzzManifest feeds arbitrary JSON to the manifest decoding a dock does
// (its own files, and the collector's campaign list): no panic, and every
// manifest accepted as an offer converts back to the same offer.
func FuzzManifest(f *testing.F) {
	good, _ := json.Marshal(NewManifest(recsim.VendorKey(), "R1", "2.5.0", []byte("image")))
	f.Add(good)
	f.Add([]byte(`{"model":"R1","version":"1","size":1,"sha256":"00","signature":"x"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Manifest
		if json.Unmarshal(b, &m) != nil {
			return
		}
		o, err := m.Offer()
		if err != nil {
			return
		}
		if o.Size == 0 || o.Version == "" || o.Model == "" {
			t.Fatalf("accepted %+v", o)
		}
		o2, err := Manifest{Model: o.Model, Version: o.Version, Size: o.Size, SHA256: m.SHA256, Signature: m.Signature}.Offer()
		if err != nil || !reflect.DeepEqual(o, o2) {
			t.Fatalf("round trip: %+v %+v %v", o, o2, err)
		}
	})
}
