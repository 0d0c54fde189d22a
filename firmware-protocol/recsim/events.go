package recsim

import (
	"cmp"
	"slices"
	"time"

	"github.com/berthdock/berth/firmware-protocol/docklink"
)

// baseEvents is the event log at load: the manifest's, or one synthesised
// from the segments (power-on, record-start and record-stop per segment,
// an alarm before a low-battery, storage-full or fault stop).
func baseEvents(m *Manifest, segs []segment) []docklink.Event {
	var evs []docklink.Event
	if len(m.Events) > 0 {
		for _, e := range m.Events {
			k, _ := eventKind(e.Kind)
			evs = append(evs, docklink.Event{Time: e.Time.UTC(), Kind: k, Seq: e.Seq, Detail: e.Detail})
		}
	} else {
		for i, s := range segs {
			md := s.meta
			if i == 0 {
				evs = append(evs, docklink.Event{Time: md.Start.Add(-time.Minute), Kind: docklink.EventPowerOn})
			}
			evs = append(evs, docklink.Event{Time: md.Start, Kind: docklink.EventRecordStart, Seq: md.Seq})
			switch md.StopCause {
			case docklink.StopLowBattery:
				evs = append(evs, docklink.Event{Time: md.End, Kind: docklink.EventLowBattery, Seq: md.Seq, Detail: "battery 3%"})
			case docklink.StopStorageFull:
				evs = append(evs, docklink.Event{Time: md.End, Kind: docklink.EventStorageFull, Seq: md.Seq})
			case docklink.StopFault:
				evs = append(evs, docklink.Event{Time: md.End, Kind: docklink.EventFault, Seq: md.Seq, Detail: "encoder stalled"})
			}
			evs = append(evs, docklink.Event{Time: md.End, Kind: docklink.EventRecordStop, Seq: md.Seq, Detail: md.StopCause.String()})
		}
		slices.SortStableFunc(evs, func(a, b docklink.Event) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) })
	}
	for i := range evs {
		evs[i].Index = uint64(i + 1)
	}
	return evs
}
