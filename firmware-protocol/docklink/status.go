package docklink

import "time"

// Unknown-value markers for Status fields (§7.2).
const (
	PercentUnknown uint8 = 0xFF   // Percent / HealthPercent not measured
	TempUnknown    int16 = -32768 // TempDeciC not measured
)

// StatusGet asks for the device's Status (§7.1). Empty payload.
type StatusGet struct{}

// Battery is the battery part of Status (§7.2).
type Battery struct {
	MilliVolts    uint16      // terminal voltage, mV
	Percent       uint8       // state of charge 0–100 %, PercentUnknown if unknown
	HealthPercent uint8       // state of health 0–100 % of design capacity, PercentUnknown if unknown
	Cycles        uint32      // full-equivalent charge cycles
	TempDeciC     int16       // temperature in 0.1 °C, TempUnknown if unknown
	Charge        ChargeState // charger state
}

// Storage is the storage part of Status (§7.2).
type Storage struct {
	TotalBytes    uint64 // capacity for footage, bytes
	FreeBytes     uint64 // free for new footage, bytes
	HealthPercent uint8  // remaining endurance 0–100 %, PercentUnknown if unknown
	ReadErrors    uint32 // uncorrectable read errors since manufacture
	WriteErrors   uint32 // failed writes since manufacture
	BadBlocks     uint32 // retired blocks
}

// Status is the device's health and identity at one instant (§7.2).
type Status struct {
	Battery   Battery
	Storage   Storage
	Clock     time.Time      // device clock when the status was taken (time64)
	Recording RecordingState // what the recorder is doing
	LastSeq   uint64         // highest segment sequence number ever assigned, 0 if none (§9.2)
	Firmware  string         // firmware version
	Officer   string         // officer the device is assigned to, "" if none
}

func (*StatusGet) Type() Type { return TypeStatusGet }
func (*Status) Type() Type    { return TypeStatus }

// AppendPayload encodes §7.1 (empty).
func (*StatusGet) AppendPayload(b []byte) ([]byte, error) { return b, nil }

// DecodePayload decodes §7.1 (empty).
func (*StatusGet) DecodePayload(p []byte) error { return emptyDecode(p) }

// AppendPayload encodes §7.2.
func (m *Status) AppendPayload(b []byte) ([]byte, error) {
	bt, st := &m.Battery, &m.Storage
	b = appendU16(b, bt.MilliVolts)
	b = appendU8(b, bt.Percent)
	b = appendU8(b, bt.HealthPercent)
	b = appendU32(b, bt.Cycles)
	b = appendU16(b, uint16(bt.TempDeciC))
	b = appendU8(b, uint8(bt.Charge))
	b = appendU64(b, st.TotalBytes)
	b = appendU64(b, st.FreeBytes)
	b = appendU8(b, st.HealthPercent)
	b = appendU32(b, st.ReadErrors)
	b = appendU32(b, st.WriteErrors)
	b = appendU32(b, st.BadBlocks)
	b = appendTime(b, m.Clock)
	b = appendU8(b, uint8(m.Recording))
	b = appendU64(b, m.LastSeq)
	return appendStrs(b, m.Firmware, m.Officer)
}

// DecodePayload decodes §7.2.
func (m *Status) DecodePayload(p []byte) error {
	d := decoder{p: p}
	bt, st := &m.Battery, &m.Storage
	bt.MilliVolts = d.u16()
	bt.Percent = d.u8()
	bt.HealthPercent = d.u8()
	bt.Cycles = d.u32()
	bt.TempDeciC = int16(d.u16())
	bt.Charge = ChargeState(d.u8())
	st.TotalBytes = d.u64()
	st.FreeBytes = d.u64()
	st.HealthPercent = d.u8()
	st.ReadErrors = d.u32()
	st.WriteErrors = d.u32()
	st.BadBlocks = d.u32()
	m.Clock = d.time()
	m.Recording = RecordingState(d.u8())
	m.LastSeq = d.u64()
	m.Firmware = d.str()
	m.Officer = d.str()
	if !bt.Charge.Valid() {
		d.fail("charge state %d", bt.Charge)
	}
	if !m.Recording.Valid() {
		d.fail("recording state %d", m.Recording)
	}
	return d.finish()
}
