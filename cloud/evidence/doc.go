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
// against; route a dock's uploads to one instance or use the S3 backend.
// The directory backend is the embedded default (no setup); write-once and
// legal holds are enforced there by the application (nothing deletes an
// object), not by the storage.
//
// # S3 backend
//
// S3 keeps the same store in a bucket of an S3-compatible server that has
// versioning and object lock enabled (OpenS3 refuses any other bucket),
// through minio-go. Every piece of an upload's state is in the bucket, so
// any collector instance continues any upload.
//
// Begin starts the multipart upload of objects/<sha256> (the hash the
// caller declares), with the lock mode (COMPLIANCE in production,
// GOVERNANCE in tests) and a retain-until date set in that request, and
// writes staging/<id>/meta (declared size and hash, the upload's id, the
// caller's metadata) with If-None-Match: *, so the first Begin's metadata
// and upload stand; a racing loser aborts its own upload.
//
// Append sends a chunk that, with the pending chunks before it, makes at
// least a part (S3 parts but the last must be 5 MiB; docks send 4 MiB) or
// ends the object as the next part of that upload, and then writes the
// part's state object, staging/<id>/s<part>-<start>-<ETag>: the SHA-256
// state of the object's bytes to the part's end, carried on from the
// previous part's state. A part counts once its state object names the
// ETag the server holds for it, so a crash between the two writes, or
// two instances racing on one part (S3 lets the last part write win),
// leaves a chain that ends before it. A smaller chunk is written as a
// pending chunk, staging/<id>/p<offset>, only if absent (of two instances
// appending at one offset exactly one wins), and goes into the next part.
// Every request carries its body's SHA-256 as the signed payload hash,
// which the server checks before it stores anything: a chunk sent as it
// came is signed with the dock's chunk sum, so the server's check is the
// chunk's, and it is hashed here only into the object's running SHA-256
// (OpenS3 probes that the server refuses a body that does not match its
// signed hash; one that does not gets chunks hashed here too). The
// durable offset is the end of the chain of parts from 0 and then of
// pending chunks.
//
// Two instances writing the same part at once (S3 has no conditional part
// upload, and keeps the last write) are not fenced: the part's state
// object that names the server's ETag wins, so the durable offset becomes
// the last writer's end, and a dock told a longer offset by the other is
// refused at it with the durable one (ErrOffset) and resends from there;
// nothing is receipted before the whole SHA-256 is checked, and the dock
// keeps the footage until then (TestS3RacingPartWritesResync).
//
// Commit needs no second pass over the bytes: the last part's state gives
// the SHA-256 of all of them, which must be the declared one, or the
// upload stays uncompleted (no object ever exists under a hash its bytes
// do not have). The upload is then completed conditionally (If-None-
// Match: *, so committing the same content again never adds a version;
// it re-reads and verifies the existing object instead) from exactly the
// parts whose ETags the state objects name; the new version's ETag must be
// the one those parts make (the MD5 of their MD5s) and its size the
// declared one, or it is read back and verified. Its lock, set when the
// upload began, is extended to the retention from now; then the staging
// keys are deleted by version (a plain delete in a versioned bucket only
// adds a delete marker), and Commit returns the Object with its Version.
//
// The S3 server's durability is the store's: versitygw v1.8.0's POSIX
// backend does not fsync what it writes.
//
// A plain delete or a new put of objects/<sha256> adds a delete marker or
// a version; neither touches the committed version, which the server
// refuses to delete until its retention ends (and, with a legal hold,
// after). Receipts therefore name Object.Ref (id@version), and reads go by
// version id: a bare id reads the object's first version, never a later
// put. The collector's credentials should not hold
// s3:BypassGovernanceRetention (nor, for objects/, s3:DeleteObjectVersion).
// Lock, SetLegalHold and ExtendRetention expose the retention and hold of
// a version; the rules of who may hold are package custody's.
package evidence
