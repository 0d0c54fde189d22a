package buffer

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/jonboulle/clockwork"
)

// Opts configures a Buffer; the zero value of each field takes the default
// written beside it (see DefaultOpts and the package documentation for why).
type Opts struct {
	// KeyFile holds the 32-byte AES-256 key that encrypts the database at
	// rest (raw bytes, mode 0600 or stricter, see WriteKeyFile). Required
	// unless Plaintext is set.
	KeyFile string
	// Plaintext stores the buffer unencrypted: for development only; Open
	// logs a warning.
	Plaintext bool

	// Capacity is the most footage bytes the buffer holds; 0: the file
	// system's free space minus Reserve. On 32-bit builds it is capped at
	// Max32BitCapacity.
	Capacity int64
	// Reserve is the free space always left on the file system (1 GiB).
	Reserve int64

	// ChunkSize is the footage chunk size (1 MiB); it must exceed
	// ValueThreshold so that chunks live in the value log.
	ChunkSize int

	// Badger sizing (defaults in DefaultOpts).
	MemTableSize     int64
	ValueLogFileSize int64
	BlockCacheSize   int64
	IndexCacheSize   int64

	// GCInterval is the reclamation loop's period (1 min); a release wakes
	// it sooner.
	GCInterval time.Duration
	// DiscardRatio: a value-log file is rewritten once this share of it is
	// garbage (0.5).
	DiscardRatio float64
	// RetainUnreleased: a receipted segment the recorder never released
	// (removed early, releases withheld for a sequence hole) is deleted
	// this long after its receipt, and only if ReceiptKey verifies the
	// receipt. 0 keeps such segments until they are released.
	RetainUnreleased time.Duration
	ReceiptKey       ed25519.PublicKey
	// PreviousReceiptKeys are collector keys still trusted after a
	// rotation, for receipts issued before it.
	PreviousReceiptKeys []ed25519.PublicKey
	// KeepRecords: the record of a released segment (phase, receipt,
	// manifest) outlives its footage by this long (30 days), then is
	// deleted so a dock's memory does not grow with every segment it ever
	// held. The recorder freed the segment on release, so it will not be
	// listed again.
	KeepRecords time.Duration

	Clock  clockwork.Clock
	Logger *slog.Logger
}

// Defaults (see the package documentation for the reasoning and figures).
const (
	DefaultChunkSize        = 1 << 20
	DefaultMemTableSize     = 2 << 20
	DefaultValueLogFileSize = 32 << 20
	DefaultBlockCacheSize   = 4 << 20
	DefaultIndexCacheSize   = 2 << 20
	DefaultReserve          = 1 << 30

	// Max32BitCapacity caps the footage on 32-bit builds, where badger
	// memory-maps every value-log file into a 3 GiB address space.
	Max32BitCapacity = 1 << 30

	// valueThreshold: values at least this long go to the value log. Every
	// metadata record and outbox report is far smaller; every footage chunk
	// but a segment's short tail is far larger.
	valueThreshold = 16 << 10
	minChunkSize   = 64 << 10
	maxChunkSize   = 8 << 20
)

// is32 is true on 32-bit builds (arm GOARM=7).
const is32 = bits.UintSize == 32

// DefaultOpts returns the defaults, for a caller that changes a few.
func DefaultOpts() Opts {
	o := Opts{}
	o.defaults()
	return o
}

func (o *Opts) defaults() {
	if o.Reserve == 0 {
		o.Reserve = DefaultReserve
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.ValueLogFileSize == 0 {
		o.ValueLogFileSize = DefaultValueLogFileSize
		if is32 {
			o.ValueLogFileSize = 16 << 20
		}
	}
	if o.BlockCacheSize == 0 {
		o.BlockCacheSize = DefaultBlockCacheSize
	}
	if o.IndexCacheSize == 0 {
		o.IndexCacheSize = DefaultIndexCacheSize
	}
	if o.GCInterval <= 0 {
		o.GCInterval = time.Minute
	}
	if o.KeepRecords <= 0 {
		o.KeepRecords = 30 * 24 * time.Hour
	}
	if o.DiscardRatio == 0 {
		o.DiscardRatio = 0.5
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Opts) check() error {
	var errs []error
	if o.ChunkSize < minChunkSize || o.ChunkSize > maxChunkSize {
		errs = append(errs, fmt.Errorf("chunk size %d not in %d..%d", o.ChunkSize, minChunkSize, maxChunkSize))
	}
	if o.ValueLogFileSize < 1<<20 || o.ValueLogFileSize < 4*int64(o.ChunkSize) || o.ValueLogFileSize >= 1<<30 {
		errs = append(errs, fmt.Errorf("value-log file size %d must be at least 1 MiB and 4 chunks, and under 1 GiB", o.ValueLogFileSize))
	}
	if o.MemTableSize < 1<<20 {
		errs = append(errs, fmt.Errorf("memtable size %d under 1 MiB", o.MemTableSize))
	}
	if o.BlockCacheSize <= 0 || o.IndexCacheSize <= 0 {
		errs = append(errs, errors.New("block and index caches must be set (encryption and compression need them)"))
	}
	if o.Capacity < 0 || o.Reserve < 0 {
		errs = append(errs, errors.New("capacity and reserve must not be negative"))
	}
	if o.DiscardRatio <= 0 || o.DiscardRatio >= 1 {
		errs = append(errs, fmt.Errorf("discard ratio %g not in (0, 1)", o.DiscardRatio))
	}
	if o.RetainUnreleased < 0 {
		errs = append(errs, errors.New("retain-unreleased must not be negative"))
	}
	if o.RetainUnreleased > 0 && len(o.ReceiptKey) != ed25519.PublicKeySize {
		errs = append(errs, errors.New("retain-unreleased needs the collector's receipt key to verify receipts before deleting"))
	}
	if o.KeyFile == "" && !o.Plaintext {
		errs = append(errs, errors.New("a key file is required (or Plaintext, for development)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return nil
}

// badgerOptions are the database options for dir (see the package doc).
func (o *Opts) badgerOptions(dir string, key []byte) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(slogLogger{o.Logger.With("part", "badger")}).
		WithSyncWrites(true).
		WithMetricsEnabled(false).
		WithNumGoroutines(2).
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(4 << 20).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(o.ValueLogFileSize).
		WithNumCompactors(2).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(o.IndexCacheSize).
		WithCompression(options.Snappy).
		WithVerifyValueChecksum(true).
		WithEncryptionKey(key)
}

// KeySize is the length of the buffer's AES-256 key.
const KeySize = 32

// ReadKeyFile reads the buffer's key, refusing a file that is not a regular
// file of exactly KeySize bytes readable by its owner only.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKeyFile, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; it must be readable by its owner only (chmod 0600)", ErrKeyFile, path, perm)
	}
	if fi.Size() != KeySize {
		return nil, fmt.Errorf("%w: %s holds %d bytes, want exactly %d (AES-256)", ErrKeyFile, path, fi.Size(), KeySize)
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, path, err)
	}
	return key, nil
}

// WriteKeyFile creates path holding a fresh random key, mode 0600. It never
// overwrites a file: losing the old key loses the buffer.
func WriteKeyFile(path string) error {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	return nil
}
