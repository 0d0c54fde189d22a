// Package drivers groups the dock's hardware drivers, built on periph.io.
//
// Each sub-package drives one part the way periph's own device drivers do: a
// Dev made by New(bus, *Opts), String and Halt, tested with periph's fakes.
//
//   - slotpower: the charge-enable line of a slot.
//   - presence: debounced insert/remove events from a slot's presence switch.
//   - led: a slot's indicator with named patterns, on GPIO LEDs or a strip.
//   - chargesense: a slot's charge current and voltage from an INA219.
//   - ina3221: a three-channel current monitor (one chip for three slots).
//   - seriallink: a slot's recorder serial port, by its stable USB path.
//   - board: board files, and opening a whole board (real or simulated).
package drivers
