package ingest_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/schema"
)

// FuzzDecode: the decode/validate path never panics; every refusal is a
// *Rejection with a known reason; whatever it accepts belongs on its topic,
// and wire's re-encoding of it is accepted again (by the JSON Schema too)
// with the same identity. Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	dec, err := ingest.NewDecoder()
	if err != nil {
		f.Fatal(err)
	}
	val, err := schema.New()
	if err != nil {
		f.Fatal(err)
	}
	slot, _ := wire.NewEnvelope("m-1", "dock-7", time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC), wire.TypeSlotState,
		&wire.SlotState{Slot: 3, State: wire.SlotCopying, Serial: "R-1"})
	p, _ := slot.Marshal()
	f.Add(wire.SlotTopic("dock-7", 3), p)
	f.Add(wire.StateTopic("dock-7"), p)
	f.Add("berth/v1/docks/dock-7/slots/3/x", p)
	f.Add(wire.SlotTopic("dock-7", 3), []byte(`{"v":1,"id":"x","dock":"dock-7","time":"2026-01-01T00:00:00Z","type":"slot.state","body":{}}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		parts, inc, err := dec.Decode(topic, payload)
		if err != nil {
			var rj *ingest.Rejection
			if !errors.As(err, &rj) || !errors.Is(err, ingest.ErrRejected) {
				t.Fatalf("error %v is not a *Rejection", err)
			}
			if !slices.Contains(ingest.Reasons, rj.Reason) {
				t.Fatalf("unknown reason %q", rj.Reason)
			}
			return
		}
		if inc.Env.Dock != parts.Dock || inc.Body == nil {
			t.Fatalf("accepted %+v on topic %q", inc.Env, topic)
		}
		env, err := wire.NewEnvelope(inc.Env.ID, inc.Env.Dock, inc.Env.Time, inc.Env.Type, inc.Body)
		if err != nil {
			t.Fatal(err)
		}
		again, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := val.Validate(again); err != nil {
			t.Fatalf("schema refuses wire's encoding of an accepted message: %v\n%s", err, again)
		}
		_, inc2, err := dec.Decode(topic, again)
		if err != nil {
			if strings.Contains(err.Error(), "oversize") {
				return // re-encoding escapes may grow a payload past the limit
			}
			t.Fatalf("re-encoded message refused: %v\n%s", err, again)
		}
		if inc2.Env.ID != inc.Env.ID || inc2.Env.Type != inc.Env.Type || !inc2.Env.Time.Equal(inc.Env.Time) {
			t.Fatalf("identity changed: %+v -> %+v", inc.Env, inc2.Env)
		}
	})
}
