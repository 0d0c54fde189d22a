package audio

// G.711 expansion (ITU-T G.711, the reference C code of Sun's g711.c):
// 8-bit A-law and µ-law codes to 16-bit linear PCM. Tables built once.

var alawTable, mulawTable [256]int16

func init() {
	for i := range 256 {
		alawTable[i] = alaw(byte(i))
		mulawTable[i] = mulaw(byte(i))
	}
}

// ALawToLinear expands one G.711 A-law code to 16-bit linear PCM.
func ALawToLinear(b byte) int16 { return alawTable[b] }

// MuLawToLinear expands one G.711 µ-law code to 16-bit linear PCM.
func MuLawToLinear(b byte) int16 { return mulawTable[b] }

func alaw(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

func mulaw(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + 0x84
	t <<= (int(u) & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}
