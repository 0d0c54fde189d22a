// Package massstore ingests legacy recorders that present as USB mass
// storage (most recorders in service, with the GA/T 947 folder layouts) as
// one more source for the dock's one pipeline: buffer, upload, receipt,
// release (agent/slot runs it, as for DockLink recorders).
//
// A Port is a slot's USB port, named in the board file by the udev by-path
// link of its block device. Attach waits for the recorder's volume, mounts
// it read-only (ro, nosuid, nodev, noexec; mount(2)), reads who it is (an
// identity file on the volume, or the USB serial number), lists its
// recordings and numbers them: such a recorder keeps no sequence numbers,
// so the dock gives each file one, once, in recording order, and keeps the
// numbering in the buffer (buffer.VolumeIndex). A file's SHA-256 is
// computed by the dock when it first reads it; the copy into the buffer
// reads it again and the buffer checks the two agree, so a file changing
// under the dock is a hash mismatch, never silently different footage.
//
// Times come from the file layout (a date and time in the name or the
// folder, in the recorder's configured time zone) and the MP4 container
// (mvhd creation time and duration); the manifests say so
// (wire.TimeSourceFile), and the collector treats them as less trustworthy
// than a DockLink recorder's measured clock.
//
// Footage stays on the recorder unless the policy is ReleaseDelete: then a
// file is deleted (the volume remounted read-write only for that) after
// its receipt verified, and only if it still hashes to the receipted bytes.
package massstore
