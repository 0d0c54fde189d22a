// Package buffer is the dock's evidence buffer: footage copied off the
// recorders waits here, encrypted at rest in a badger v4 database, until
// the collector's receipt says the evidence store holds exactly it; only
// then may a slot release it on the recorder, and only after that (or a
// long retention, with a verified receipt) does the buffer delete it.
//
// A *Buffer is what a slot writes to (Lookup, Begin, MarkReleased), what
// the uploader reads from (PendingUpload, Open, MarkUploaded), and what the
// dock reports (Manifest, Stats) and runs (Run, the space-reclaiming loop).
// The buffer owns the words those users speak to it in (segment.go: Phase,
// Known, Meta, Writer, Pending, ErrFull, ErrHashMismatch): it imports no
// other agent/ package, and the slot and uploader declare their narrow
// interfaces over these types. The outbox shares its
// database under its own prefix: outbox.New(b.DB(), outbox.DefaultPrefix).
//
// # Footage, hashes and durability
//
// A segment's bytes are stored in chunks of ChunkSize (1 MiB) keyed by
// device serial, sequence number and the offset of the chunk's first byte
// (see records.go), beside a JSON record of the segment (Meta's
// manifest, phase, bytes held, the follows-an-interruption flag, the
// receipt, timestamps). The SHA-256 is computed while streaming; every
// chunk is written in one transaction with a progress entry holding the
// bytes durable and the marshalled SHA-256 state over exactly those bytes,
// so a copy resumed after an Abort or a crash continues the hash without
// reading anything back, and never rewrites or duplicates a byte. Abort
// writes the partial chunk too (chunks are keyed by offset, so a short one
// is fine): a flaky link that drops every 800 KiB still makes progress.
// The writer hands a chunk to badger asynchronously and hashes the next one
// meanwhile (one chunk in flight).
//
// Badger runs with SyncWrites on: every write (a chunk with its progress
// entry, a record, a receipt, a release, an outbox report) is fsynced, value
// log before memtable log, before badger answers. So a chunk counts in
// Offset, and a segment as buffered, only once it is on disk, and nothing
// durable ever points at bytes that are not. A segment counts as buffered
// only once its last chunk is durable and the hash over every byte equals
// the recorder's; a mismatch makes it PhaseFaulty, Commit's error wraps
// ErrHashMismatch, and nothing about it can be uploaded or released (the
// faulty copy's chunks are garbage; the original stays on the recorder,
// and a new Begin starts over). Receipts (MarkUploaded) and releases
// (MarkReleased) are durable before they return.
//
// Badger's own default (SyncWrites off, and Sync when asked) is not enough
// for that promise, which is why this costs a sync per chunk: its Sync
// fsyncs only the newest value-log file and the active memtable's log, so
// a memtable rotated but not yet flushed keeps its log in the page cache,
// and a memtable flush writes (and fsyncs) a table whose pointers and
// progress entries refer to value-log bytes never synced. After a power
// cut a resumed copy then continued from progress over chunks that were
// gone, and Commit called buffered a segment that read back as garbage
// (TestCommittedSurvivesCut, on the FUSE layer of ./powercut, shows both;
// cmd/dockd's TestCrashPowerCutDockd found it). Syncing every 1 MiB chunk
// costs little on a quiet machine (one stream 116-120 MB/s against 118-141,
// four streams 129-132 against 138-145) and up to 45 % of one stream's rate
// when the machine is loaded (27 against 47 MB/s at load 16); badger groups
// concurrent transactions into one synced write (BenchmarkOffload,
// BenchmarkOffload4, BenchmarkChunkSize; see the figures below).
//
// # Badger options for a Raspberry-Pi-class board
//
//   - ValueThreshold 16 KiB: footage chunks (1 MiB) go to the value log,
//     records, progress entries and outbox reports stay in the LSM tree,
//     which stays a few MiB even for a full buffer (one key per MiB).
//   - MemTableSize 2 MiB, NumMemtables 2: a memtable's arena is allocated
//     up front on the Go heap, and flushing one to a table makes badger's
//     table builder allocate several times its size; badger's default
//     (64 MiB × 5) alone would exceed the whole dockd's memory budget. With
//     footage in the value log a memtable holds only keys and pointers
//     (about 250 bytes per MiB of footage), so 2 MiB is plenty; it also
//     bounds a transaction to 300 KiB of keys and small values, far above
//     what a chunk or an outbox report needs. Measured: 4 MiB memtables
//     made the churn benchmark's peak live heap 71 MiB, 2 MiB 51 MiB
//     (the process holding a 16 MiB segment itself).
//   - BlockCacheSize 4 MiB, IndexCacheSize 2 MiB: required with encryption
//     and compression (badger decrypts blocks and indexes into them); the
//     LSM tree is small, so small caches hold it.
//   - ValueLogFileSize 32 MiB (16 MiB on 32-bit): the unit in which disk
//     space comes back. A value-log file is freed only when badger can
//     delete or rewrite it; small files become wholly garbage soon after
//     the segments in them are released. 64 GiB of buffer is 2,048 files,
//     well within the descriptor limit Go raises at start.
//   - NumCompactors 2 (badger's minimum short of none), NumLevelZeroTables
//     2, BaseTableSize 1 MiB, BaseLevelSize 4 MiB: a small LSM compacted
//     early and cheaply on a two- or four-core board.
//   - DetectConflicts off (each segment has one writer, the outbox has its
//     own lock), MetricsEnabled off (Stats measures the directory itself),
//     NumVersionsToKeep 1, Snappy for the LSM tables, VerifyValueChecksum
//     on (a corrupt value-log read fails at once, not at the collector).
//   - EncryptionKey: AES-256 from KeyFile (32 raw bytes, owner-only mode,
//     checked by ReadKeyFile; WriteKeyFile makes one). Badger encrypts the
//     value log, the tables and its key registry with data keys rotated
//     every 10 days under this master key. TestEncryptedAtRest shows no
//     footage bytes in any file on disk (and finds them when unencrypted).
//
// The Go heap still holds badger's per-write copies (encoding and
// encrypting a 1 MiB value allocates a few MiB that become garbage at
// once), so the heap's peak depends on the garbage collector's pacing: a
// dockd that must stay within a memory budget should set GOMEMLIMIT (see
// the figures below).
//
// # Space
//
// Capacity bounds the footage held (0: the file system's free space minus
// Reserve). Begin refuses, with an error wrapping ErrFull, a
// segment whose remaining bytes would exceed the capacity counting what
// running copies have been promised, or would leave less than Reserve free
// on the disk; each chunk checks the free space again, so a disk filled by
// something else stops the copy cleanly (what is durable stays; the
// footage stays on the recorder). On 32-bit builds badger memory-maps every
// value-log file into a 3 GiB address space, so the capacity is capped at
// Max32BitCapacity (1 GiB; with up to half as much garbage awaiting
// rewrite, about 1.5 GiB mapped).
//
// # Reclamation
//
// Deleting a key does not give disk space back: badger frees a value-log
// file only when its discard statistics say enough of it is garbage, and
// those statistics are updated only when a compaction drops the old
// versions of deleted keys. A memtable holding the deletions is compacted
// only after it fills, which keys-and-pointers-only writes take gigabytes
// of footage to do; badger's GC alone then reclaims nothing
// (TestChurnWithoutRotationGrows: the disk grows with everything written,
// 0 files freed). So a reclamation pass (Run, every GCInterval and soon
// after a release) deletes the chunks of each segment that is receipted
// and released (the receipt was made durable first; a faulty copy's chunks
// too; a receipted but unreleased one after RetainUnreleased, only if its
// receipt verifies against ReceiptKey), keeps its record (phase, receipt,
// manifest: the slot must never copy it again), and then compacts: it
// writes a memtable's worth of zero-filled filler values kept in the LSM
// (compressed to almost nothing in the table), which rotates the memtable,
// waits for the flush, flattens the LSM with db.Flatten so every deletion
// meets the version it deletes (the discard statistics are updated then),
// and calls RunValueLogGC(DiscardRatio) until badger answers ErrNoRewrite.
// DropPrefix would do the flush and drop in one call but blocks every
// write to the database while it runs, failing the outbox's and the other
// slots' writes with ErrBlockedWrites, so it is not used. Readers hold no
// transaction between reads, so a long upload never pins old versions.
//
// Run's loop is owned by the caller: it stops when ctx ends, and Close
// waits for a pass in progress, so no pass ever touches a closed database.
//
// # Figures
//
// Measured with this package's benchmarks on the development machine (2
// vCPU AMD EPYC with SHA and AES instructions, virtio disk), which was
// shared with other builds at load 12-19, so throughputs varied by up to
// 2x between runs; ranges are given.
//
//   - The disk itself (BenchmarkDiskBaseline, 64 MiB written and
//     fdatasynced): 98-230 MB/s (dd with fdatasync: 115-177 MB/s).
//   - BenchmarkOffload (one stream, 64 KiB writes, 64 MiB segments,
//     encrypted, hashing; measured before SyncWrites, with a sync every 16
//     chunks and at Commit): 73-118 MB/s on the
//     disk, 99-196 MB/s on tmpfs; raw badger writing 1 MiB encrypted values
//     on tmpfs managed 96-308 MB/s under the same load, so the buffer adds
//     little to badger's own write path, and on this disk the durable rate
//     is bounded by the disk's, below the 200 MB/s aimed at.
//   - BenchmarkOffload4 (four streams): 65-110 MB/s aggregate on the disk,
//     99-202 MB/s on tmpfs.
//   - SyncWrites (2026-12-05, the same test binary built both ways and run
//     alternately): at load 2-3 (disk baseline 812-878 MB/s) one stream
//     116-120 MB/s synced against 118-141 with a sync every 16 chunks,
//     four streams 129-132 against 138-145; at load 12-16 one stream
//     26-28 against 46-51 MB/s, four streams 47-56 against 54-62 MB/s. BenchmarkChunkSize (synced, load 9-11): 256 KiB chunks
//     22 MB/s, 1 MiB 52 MB/s, 4 MiB 70 MB/s, with peak live heap 28, 34
//     and 46 MiB: 1 MiB stays the default, within the board's memory.
//     Before SyncWrites, BenchmarkSyncCost had measured a sync every chunk
//     at 54 MB/s against 117 for every 16 on a quiet disk.
//   - BenchmarkChurn (production options, 256 MiB backlog, 2.5 GiB through
//     it in four interleaved streams of 16 MiB segments, each receipted,
//     released and reclaimed): peak disk use 321-326 MiB = 1.26-1.27x the
//     backlog (three runs), 1.00x at the end, 72 of 80 value-log files
//     freed, 27-37 MB/s end to end including every segment's five synced
//     steps and the compactions.
//     TestChurnDiskStaysBounded (16 MiB backlog, 160 MiB through): 1.28x;
//     under -race, as CI runs it (96 MiB through): 1.02-1.34x, three runs.
//     Without the memtable rotation (TestChurnWithoutRotationGrows) the
//     disk grew with everything written (5-6x) and no file was freed.
//   - Memory: with 4 MiB memtables the buffer's live heap while a copy
//     ran was about 12.5 MiB (memtable arena 5.3, the writer's two chunk
//     buffers 2.4, badger's in-flight encoding and encryption copies 3.6,
//     caches 1.3; 2 MiB memtables take 2.6 MiB off), about 3.5 MiB more
//     per further stream; a reclamation pass adds badger's table builder
//     (several times a memtable) and value-log rewrites (a few MiB per
//     moved chunk) while it runs. With 2 MiB memtables, one copy without
//     reclamation peaked at 19 MiB live heap and 37 MiB resident anonymous
//     memory (four copies: 27 and 53 MiB); with reclamation passes between
//     copies, 41-67 MiB live and 84-114 MiB resident with the default GC
//     pacing, 38-40 MiB live and 77-79 MiB resident with GOMEMLIMIT=80MiB
//     (the churn benchmark: 66 and 131 MiB by default). A dockd held to
//     96 MiB should therefore set GOMEMLIMIT (about 80 MiB).
package buffer
