package dock

import (
	"fmt"

	"github.com/berthdock/berth/agent/localapi"
	"github.com/berthdock/berth/agent/report"
	"github.com/berthdock/berth/agent/slot"
	"github.com/berthdock/berth/cloud/wire"
)

// id makes a message id unique for this dock across restarts: the start
// time in nanoseconds and a counter.
func (d *Dock) id(kind string) string {
	return fmt.Sprintf("%s-%d-%d", kind, d.started.UnixNano(), d.seq.Add(1))
}

// put makes a report durable in the outbox and wakes the reporter.
func (d *Dock) put(id, typ, topic string, retained bool, body any) {
	m, err := report.Encode(id, d.set.Dock, d.set.Clock.Now(), typ, topic, retained, body)
	if err == nil {
		err = d.p.Outbox.Put(m)
	}
	if err != nil {
		// The outbox is on the same disk as the buffer; if it fails the
		// footage is still safe, the report is what is lost, so say so loudly.
		d.p.Log.Error("report not queued", "type", typ, "id", id, "err", err)
		return
	}
	d.rep.Kick()
}

// Slot implements slot.Reports.
func (d *Dock) Slot(st wire.SlotState) {
	d.put(d.id("slot"), wire.TypeSlotState, wire.SlotTopic(d.set.Dock, st.Slot), true, &st)
}

// Device implements slot.Reports.
func (d *Dock) Device(h wire.DeviceHealth) {
	if h.Unit == "" {
		h.Unit = d.set.Unit
	}
	d.put(d.id("dev"), wire.TypeDeviceHealth, wire.DeviceTopic(d.set.Dock, h.Serial), false, &h)
}

// Manifest implements slot.Reports. A segment newly buffered (durable and
// hash-verified) also wakes the uploader.
func (d *Dock) Manifest(m wire.SegmentManifest) {
	d.put(d.id("seg"), wire.TypeSegmentManifest, wire.SegmentsTopic(d.set.Dock), false, &m)
	if m.State == wire.SegBuffered {
		d.up.Kick()
	}
}

// Docking implements slot.Reports.
func (d *Dock) Docking(b wire.Docking) {
	d.put(d.id("dock"), wire.TypeDocking, wire.DockingTopic(d.set.Dock), false, &b)
}

// Events implements slot.Reports. The id names the recorder, the docking
// and the first event: the same run read again at the same docking (a link
// lost and the session started over) is one message.
func (d *Dock) Events(b wire.RecorderEvents) {
	id := fmt.Sprintf("ev-%s-%d-%d", b.Serial, b.DockedAt.UnixNano(), b.Events[0].Index)
	d.put(id, wire.TypeRecorderEvents, wire.EventsTopic(d.set.Dock), false, &b)
}

// Checkout implements slot.Reports.
func (d *Dock) Checkout(c wire.Checkout) {
	d.put(fmt.Sprintf("co-%s-%d", c.Serial, c.At.UnixNano()), wire.TypeCheckout, wire.CheckoutTopic(d.set.Dock), false, &c)
}

// Audit implements slot.Reports: append to the hash-chained log, then ship.
func (d *Dock) Audit(action string, slotIdx int, serial string, seq uint64, detail string) {
	d.audit(wire.AuditRecord{Action: action, Slot: slotIdx, Serial: serial, Seq: seq, Detail: detail})
}

// Authenticated implements slot.Reports: the "authenticated" record
// carries the recorder's proof.
func (d *Dock) Authenticated(slotIdx int, serial, detail string, proof *wire.AuthProof) {
	d.audit(wire.AuditRecord{Action: wire.AuditAuthenticated, Slot: slotIdx, Serial: serial, Detail: detail, Proof: proof})
}

func (d *Dock) audit(rec wire.AuditRecord) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sealed, err := d.p.Audit.Append(rec)
	if err != nil {
		d.p.Log.Error("audit append failed", "action", rec.Action, "err", err)
		return
	}
	d.shipAudit(sealed)
}

// shipAudit queues an audit record under an id derived from its index, so
// shipping it twice is harmless.
func (d *Dock) shipAudit(rec wire.AuditRecord) {
	d.put(fmt.Sprintf("audit-%d", rec.Index), wire.TypeAuditRecord, wire.AuditTopic(d.set.Dock), false, &rec)
}

// publishState reports the dock's state (retained).
func (d *Dock) publishState() {
	s := d.p.Buffer.Stats()
	d.put(d.id("state"), wire.TypeDockState, wire.StateTopic(d.set.Dock), true, &wire.DockState{State: wire.DockOnline,
		Version: d.set.Version, Slots: len(d.slots), BufferBytes: s.Bytes, BufferCapacity: s.Capacity,
		BacklogSegments: s.BacklogSegments, BacklogBytes: s.BacklogBytes, OldestBacklog: s.Oldest})
}

// Status implements localapi.Dock.
func (d *Dock) Status() localapi.Status {
	s := d.p.Buffer.Stats()
	st := localapi.Status{Dock: d.set.Dock, Version: d.set.Version, Started: d.started, MQTTConnected: d.rep.Connected(),
		OutboxPending: d.p.Outbox.Len(), Backlog: localapi.Backlog{Segments: s.BacklogSegments, Bytes: s.BacklogBytes,
			Oldest: s.Oldest, BufferBytes: s.Bytes, BufferCapacity: s.Capacity}}
	for _, sl := range d.slots {
		ss, since := sl.State()
		ls := localapi.Slot{Index: ss.Slot, Name: d.slotName(ss.Slot), State: ss.State, Serial: ss.Serial, Fault: ss.Fault, Detail: ss.Detail,
			Charging: ss.Charging, Segments: ss.Segments, Copied: ss.Copied, Uploaded: ss.Uploaded, Released: ss.Released,
			BytesTotal: ss.BytesTotal, BytesCopied: ss.BytesCopied, Since: since}
		if h, ok := sl.Health(); ok {
			ls.Officer = h.Officer
		}
		if o, ok := sl.Offered(); ok {
			ls.Offer = &localapi.Offer{Officer: o.Officer, Serial: o.Serial, Since: o.At.UTC(), Expires: o.Until.UTC(), Restored: o.Restored}
		}
		if ss.Fault != "" {
			c := slot.ClassOf(ss.Fault)
			ls.FaultClass, ls.Next = c.Name, c.Custodian
		}
		st.Slots = append(st.Slots, ls)
	}
	return st
}

// Devices implements localapi.Dock.
func (d *Dock) Devices() []localapi.Device {
	var out []localapi.Device
	for _, sl := range d.slots {
		h, ok := sl.Health()
		if !ok {
			continue
		}
		out = append(out, localapi.Device{Serial: h.Serial, Officer: h.Officer, Firmware: h.Firmware, Slot: h.Slot,
			DockedAt: h.DockedAt, BatteryPct: h.Battery.Percent, BatteryHealth: h.Battery.HealthPct,
			BatteryTempC: h.Battery.TemperatureC, StorageFree: h.Storage.FreeBytes, StorageTotal: h.Storage.TotalBytes,
			StorageErrors: h.Storage.ReadErrors + h.Storage.WriteErrors + h.Storage.BadBlocks, ClockOffsetMs: h.ClockOffsetMs})
	}
	return out
}

// Logs implements localapi.Dock.
func (d *Dock) Logs(n int) []localapi.LogLine {
	if d.p.Logs == nil {
		return nil
	}
	return d.p.Logs.Last(n)
}
