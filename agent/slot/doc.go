// Package slot runs one charging slot's lifecycle (DESIGN.md, "Slot
// lifecycle"):
//
//	empty → present → identified → inventoried → copying → buffered → uploaded → released → ready
//	                      ↘ fault (at any step: a state, an LED pattern, a report; footage never lost)
//
// A recorder dropped into the slot is powered, authenticated against the
// fleet's enrolled keys, its health and clock are read (the offset is kept as
// evidence) and its clock set, its inventory listed, and every segment not
// yet on this dock is copied into the buffer, SHA-256 verified while
// streaming. Uploading is the dock's job (package uploader); the slot waits
// for each segment's receipt and only then, after checking the receipt's
// signature names exactly that segment's hash, tells the recorder to free
// it. Removing the recorder at any moment is normal: the session is
// cancelled, and everything durable stays durable; the next docking, in any
// slot of any dock, carries on from there.
//
// A recorder that stays in the slot while its session ends (it rebooted to
// install firmware, or dockd restarted while an officer's checkout offer
// stood for it) is re-authenticated and re-identified by the next session,
// which continues the same docking (the same docked_at in every report)
// only if nothing the collector judges by changed (continued.go). A
// standing checkout offer is kept in the buffer and taken up again after a
// restart (checkout.go).
//
// The slot sees its hardware, the buffer, receipts and the reports through
// small interfaces declared here; package dock wires the real ones.
package slot
