// Package evidence is the collector's evidence store: content-addressed,
// write-once objects, and the staging area where resumable uploads collect
// their bytes before they become objects.
//
// An object's id is the lowercase hex SHA-256 of its bytes, so the same
// footage uploaded twice is one object, and an id names its content. Once
// committed an object is never overwritten and this package has no way to
// delete one: rule 3 of DESIGN.md (originals are never cut, edited or
// deleted) and the retention rule are properties of the store, not of its
// callers' good manners.
//
// An upload moves through the store in three calls: Begin creates (or finds
// again) a staging area under an upload id chosen by the caller, with the
// caller's metadata; Append adds bytes at the durable end of the staging
// area, and answers only once they are on disk; Commit re-reads what is
// staged, checks its size and SHA-256 against what the caller expects, and
// only then makes it an object, durably, before answering. Staged bytes are
// not evidence yet (the dock still holds the original), so Discard may drop
// a staging area whose bytes failed verification.
//
// # Filesystem backend
//
// FS keeps objects under root/objects/ab/abcdef… (the first two hex digits
// fan out the directories) with mode 0444, and each staging area under
// root/staging/<upload id>/ as three files: meta (the caller's metadata),
// data (the bytes) and chunks (a log of 40-byte records, the end offset and
// SHA-256 of each appended chunk, written after the chunk's data was synced).
// The durable offset of a staging area is the end of the last complete log
// record, so a crash in the middle of an append leaves the upload resumable
// from the last acknowledged byte: a torn tail is truncated when the staging
// area is next loaded. Every write is followed by fsync of the file and of
// the directory whose entries it changed, before the call returns.
//
// Commit links the staged file into objects/ with link(2), which fails
// rather than replace an existing name, so even two collectors racing on
// one shared directory cannot overwrite an object. If the object already
// exists (the same footage uploaded before), its size and hash are
// re-verified and the staged copy is dropped: one object, no second copy.
//
// Per-upload locking is inside one process. Several collector instances on
// one shared directory never overwrite or lose an object (link is atomic),
// but two of them appending to the same staging area at once is not guarded
// against; route a dock's uploads to one instance or use an object store.
//
// # S3 backend (not built)
//
// A production backend for an S3-compatible store with object lock would
// implement the same Store interface; it is not part of this package yet,
// and nothing here pretends to be one. The mapping is direct: Begin is
// CreateMultipartUpload on a staging key with the metadata as object
// metadata (plus a small metadata object so a restarted collector can find
// the multipart upload id again); Append is UploadPart with the part's
// x-amz-checksum-sha256, the durable offset being the sum of ListParts
// sizes (parts must be at least 5 MiB except the last, so the caller's chunk
// size must respect that); Commit is CompleteMultipartUpload followed by a
// server-side CopyObject to the key objects/<sha256> with
// If-None-Match: * (never overwrite), object-lock mode COMPLIANCE and a
// retain-until date of at least one year (legal hold set separately with
// PutObjectLegalHold), then a re-read (or a full-object SHA-256 checksum
// returned by the store) to verify hash and size before answering; Stat is
// HeadObject and Open is GetObject with ranges. The bucket must have
// versioning and object lock enabled at creation, and the collector's
// credentials must not include s3:BypassGovernanceRetention or
// s3:DeleteObjectVersion.
package evidence
