// Package cardreadertest is a register-level fake of an MFRC522 card
// reader for tests, in the style of periph's gpiotest: it holds the chip's
// state (registers, FIFO, the card in its field) and answers periph's
// devices/v3/mfrc522 driver over spi.Conn as the chip would, raising its
// IRQ pin when a card answers the driver's probe.
package cardreadertest

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Registers and commands of the MFRC522 datasheet (§9) the fake acts on.
const (
	regCommand    = 0x01
	regCommIEn    = 0x02
	regCommIrq    = 0x04
	regDivIrq     = 0x05
	regError      = 0x06
	regFIFOData   = 0x09
	regFIFOLevel  = 0x0A
	regControl    = 0x0C
	regBitFraming = 0x0D
	regCRCResultM = 0x21
	regCRCResultL = 0x22

	cmdIdle       = 0x00
	cmdCalcCRC    = 0x03
	cmdTransceive = 0x0C
	cmdSoftReset  = 0x0F

	piccReqA    = 0x26
	piccSelCL1  = 0x93
	piccSelCL2  = 0x95
	irqRx       = 0x20
	irqIdle     = 0x10
	irqTimer    = 0x01
	divIrqCRC   = 0x04
	startSend   = 0x80
	fifoFlush   = 0x80
	sakComplete = 0x08 // MIFARE Classic 1K
	sakCascade  = 0x04 // UID not complete
)

// Chip is a fake MFRC522 on an SPI port. Make it with New; give Port to the
// driver and IRQ as its interrupt pin. Safe for concurrent use.
type Chip struct {
	// IRQ is the chip's interrupt line; it gets an edge when a card in the
	// field answers a request while the receive interrupt is enabled.
	IRQ *gpiotest.Pin
	// Reset is the chip's reset line.
	Reset *gpiotest.Pin

	mu        sync.Mutex
	regs      [64]byte
	fifo      []byte
	command   byte
	uid       []byte // the card in the field (4 or 7 bytes), nil if none
	connected bool
	absent    bool
	Requests  int // REQA probes answered or not
}

// Unfit makes the chip answer as an SPI bus with no reader on it: every
// register reads 0xFF (the bus's pull-up).
func (c *Chip) Unfit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.absent = true
}

// New makes a chip with no card in its field.
func New() *Chip {
	return &Chip{IRQ: &gpiotest.Pin{N: "IRQ", EdgesChan: make(chan gpio.Level, 1)}, Reset: &gpiotest.Pin{N: "RST"}}
}

// Present puts a card with uid (4 or 7 bytes) in the field.
func (c *Chip) Present(uid []byte) error {
	if len(uid) != 4 && len(uid) != 7 {
		return fmt.Errorf("cardreadertest: uid of %d bytes, want 4 or 7", len(uid))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uid = append([]byte(nil), uid...)
	return nil
}

// Remove takes the card out of the field.
func (c *Chip) Remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uid = nil
}

// String implements spi.Port and conn.Conn.
func (c *Chip) String() string { return "mfrc522-fake" }

// Connect implements spi.Port.
func (c *Chip) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.connected {
		return nil, errors.New("cardreadertest: Connect called twice")
	}
	if mode != spi.Mode0 || bits != 8 {
		return nil, fmt.Errorf("cardreadertest: mode %s, %d bits; the MFRC522 speaks mode 0, 8 bits", mode, bits)
	}
	c.connected = true
	return c, nil
}

// Duplex implements conn.Conn.
func (c *Chip) Duplex() conn.Duplex { return conn.Full }

// TxPackets implements spi.Conn.
func (c *Chip) TxPackets(p []spi.Packet) error {
	for _, pk := range p {
		if err := c.Tx(pk.W, pk.R); err != nil {
			return err
		}
	}
	return nil
}

// Tx implements conn.Conn: one register access, address byte (bit 7 read,
// bits 6..1 the register) then the value (datasheet §8.1.2).
func (c *Chip) Tx(w, r []byte) error {
	if len(w) != 2 || (r != nil && len(r) != 2) {
		return fmt.Errorf("cardreadertest: transfer of %d bytes, want 2", len(w))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	reg := (w[0] >> 1) & 0x3F
	if w[0]&0x80 != 0 {
		if r == nil {
			return errors.New("cardreadertest: read without a buffer")
		}
		r[0], r[1] = 0, c.read(reg)
		return nil
	}
	c.write(reg, w[1])
	return nil
}

func (c *Chip) read(reg byte) byte {
	if c.absent {
		return 0xFF
	}
	switch reg {
	case regFIFOData:
		if len(c.fifo) == 0 {
			return 0
		}
		b := c.fifo[0]
		c.fifo = c.fifo[1:]
		return b
	case regFIFOLevel:
		return byte(len(c.fifo))
	case regControl:
		return 0 // all bits of the last byte valid
	case regError:
		return 0
	case regCommand:
		return c.command
	}
	return c.regs[reg]
}

func (c *Chip) write(reg, v byte) {
	switch reg {
	case regCommand:
		c.command = v & 0x0F
		switch c.command {
		case cmdSoftReset:
			c.regs, c.fifo, c.command = [64]byte{}, nil, cmdIdle
		case cmdCalcCRC:
			crc := crcA(c.fifo)
			c.fifo = nil
			c.regs[regCRCResultL], c.regs[regCRCResultM] = byte(crc), byte(crc>>8)
			c.regs[regDivIrq] |= divIrqCRC
			c.command = cmdIdle
		}
	case regCommIrq, regDivIrq:
		// Set1 (bit 7) sets the marked bits, else clears them (§9.3.1.5).
		if v&0x80 != 0 {
			c.regs[reg] |= v & 0x7F
		} else {
			c.regs[reg] &^= v & 0x7F
		}
	case regFIFOData:
		if len(c.fifo) < 64 {
			c.fifo = append(c.fifo, v)
		}
	case regFIFOLevel:
		if v&fifoFlush != 0 {
			c.fifo = nil
		}
	case regBitFraming:
		c.regs[reg] = v &^ startSend
		if v&startSend != 0 && c.command == cmdTransceive {
			c.transceive()
		}
	default:
		c.regs[reg] = v
	}
}

// transceive sends the FIFO to the card in the field and puts its answer
// in the FIFO (ISO/IEC 14443-3 type A: REQA, anticollision and select of
// cascade levels 1 and 2).
func (c *Chip) transceive() {
	in := c.fifo
	c.fifo = nil
	var out []byte
	if c.uid != nil && len(in) > 0 {
		cl1 := c.uid[:4]
		if len(c.uid) == 7 {
			cl1 = []byte{0x88, c.uid[0], c.uid[1], c.uid[2]}
		}
		switch {
		case len(in) == 1 && in[0] == piccReqA:
			c.Requests++
			out = []byte{0x04, 0x00} // ATQA
		case len(in) == 2 && in[0] == piccSelCL1 && in[1] == 0x20:
			out = withBCC(cl1)
		case len(in) == 9 && in[0] == piccSelCL1 && in[1] == 0x70:
			sak := byte(sakComplete)
			if len(c.uid) == 7 {
				sak = sakCascade
			}
			crc := crcA([]byte{sak})
			out = []byte{sak, byte(crc), byte(crc >> 8)}
		case len(in) == 2 && in[0] == piccSelCL2 && in[1] == 0x20 && len(c.uid) == 7:
			out = withBCC(c.uid[3:7])
		}
	}
	if out == nil {
		c.regs[regCommIrq] |= irqTimer // no answer: the timer ran out
		return
	}
	c.fifo = out
	c.regs[regCommIrq] |= irqRx | irqIdle
	if c.regs[regCommIEn]&irqRx != 0 {
		select {
		case c.IRQ.EdgesChan <- gpio.Low:
		default:
		}
	}
}

func withBCC(b []byte) []byte {
	out := append([]byte(nil), b...)
	var x byte
	for _, v := range b {
		x ^= v
	}
	return append(out, x)
}

// crcA is ISO/IEC 14443-3's CRC_A (the chip's CalcCRC with preset 0x6363).
func crcA(data []byte) uint16 {
	crc := uint16(0x6363)
	for _, b := range data {
		b ^= byte(crc)
		b ^= b << 4
		crc = crc>>8 ^ uint16(b)<<8 ^ uint16(b)<<3 ^ uint16(b)>>4
	}
	return crc
}

var (
	_ spi.Port = (*Chip)(nil)
	_ spi.Conn = (*Chip)(nil)
)
