// Package powercut is a fault-injecting filesystem for the buffer's
// power-cut tests: a FUSE loopback (hanwen/go-fuse) over a backing
// directory that forgets, at a simulated power cut, every byte written
// since the file's last fsync.
//
// The model, chosen to be the harshest a journaling filesystem allows:
//
//   - file data is durable only once fsync (or fdatasync, or msync of a
//     shared mapping, which the kernel turns into FUSE_FSYNC) returns on
//     that file; a cut drops every write, truncation and allocation made
//     since, so each file is back to its content and size at its last
//     fsync (a file created and never synced is empty);
//   - namespace operations (create, mkdir, rename, unlink, link) are
//     durable at once, as a journaling filesystem commits them in order;
//   - nothing is torn inside one write (a write is kept or dropped whole,
//     with everything after its file's last fsync).
//
// Writes go through to the backing file, and the first write to a region
// after a file's last fsync saves the bytes it replaces in an undo log in
// memory; Cut plays every file's undo log backwards and truncates the file
// to its size at its last fsync. Cut is called with the filesystem
// unmounted (see FS.Cut), so no page the kernel cached survives it either.
//
// Nothing here calls fsync on the backing directory: durability is the
// model's, which also keeps a test's cycles fast.
package powercut

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// ErrNoFUSE is returned by Mount when /dev/fuse cannot be opened.
var ErrNoFUSE = errors.New("powercut: /dev/fuse is not available")

// FS is a mounted fault-injecting filesystem.
type FS struct {
	Backing string // the directory holding what is durable, plus unsynced writes until a cut
	Mnt     string // where it is mounted

	mu    sync.Mutex
	files map[uint64]*fileState // by the backing file's inode number
	srv   *fuse.Server
	stats Stats
}

// Stats counts what the filesystem saw since it was created.
type Stats struct {
	Writes       int64 // FUSE writes, truncations and allocations
	Fsyncs       int64 // fsyncs of files (and msyncs of their mappings)
	Cuts         int
	DroppedBytes int64 // bytes written after a file's last fsync and dropped by cuts
	DroppedFiles int64 // file versions rolled back by cuts
}

// fileState is one backing file's undo log since its last fsync.
type fileState struct {
	f       *os.File // the backing file, read-write, held until the next cut
	undo    []undoEntry
	written int64 // bytes written since the last fsync
}

// undoEntry restores the bytes a change replaced and the size before it.
type undoEntry struct {
	off     int64
	old     []byte // a write's: the bytes [off, off+len(old)) held before it
	oldSize int64
	// A shrink's: the non-zero blocks it cut off (the zero ones come back
	// as holes, as a shrunk preallocated file of badger's is mostly holes).
	shrink bool
	tail   []block
}

type block struct {
	off  int64
	data []byte
}

const tailBlock = 64 << 10

// Mount mounts a fault-injecting filesystem on mnt over backing (both
// directories must exist). It needs /dev/fuse and the right to mount
// (root: the mount(2) call is made directly, no fusermount).
func Mount(backing, mnt string) (*FS, error) {
	if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoFUSE, err)
	} else {
		f.Close()
	}
	p := &FS{Backing: backing, Mnt: mnt, files: map[uint64]*fileState{}}
	if err := p.mount(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *FS) mount() error {
	var st syscall.Stat_t
	if err := syscall.Stat(p.Backing, &st); err != nil {
		return fmt.Errorf("powercut: backing directory: %w", err)
	}
	root := &fs.LoopbackRoot{Path: p.Backing, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, pc: p}
	}
	rn := root.NewNode(root, nil, "", &st)
	root.RootNode = rn
	sec := time.Second
	srv, err := fs.Mount(p.Mnt, rn, &fs.Options{
		EntryTimeout: &sec, AttrTimeout: &sec, NegativeTimeout: &sec,
		MountOptions: fuse.MountOptions{FsName: "powercut", Name: "powercut", DirectMount: true, DirectMountStrict: true,
			MaxWrite: 1 << 20},
	})
	if err != nil {
		return fmt.Errorf("powercut: mount %s: %w", p.Mnt, err)
	}
	p.srv = srv
	return nil
}

// Stats returns the counts so far.
func (p *FS) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Cut simulates a power cut: it unmounts the filesystem (the process
// using it must be dead: a busy mount is detached), drops every write made
// after its file's last fsync, and mounts it again, empty of any cached
// page. It returns what this cut dropped.
func (p *FS) Cut() (Stats, error) {
	if err := p.unmount(); err != nil {
		return Stats{}, err
	}
	p.mu.Lock()
	var cut Stats
	var errs []error
	for ino, s := range p.files {
		if len(s.undo) > 0 {
			cut.DroppedFiles++
			cut.DroppedBytes += s.written
			if err := s.rollBack(); err != nil {
				errs = append(errs, fmt.Errorf("powercut: roll back inode %d: %w", ino, err))
			}
		}
		s.f.Close()
	}
	p.files = map[uint64]*fileState{}
	p.stats.Cuts++
	p.stats.DroppedBytes += cut.DroppedBytes
	p.stats.DroppedFiles += cut.DroppedFiles
	p.mu.Unlock()
	if len(errs) > 0 {
		return cut, errors.Join(errs...)
	}
	return cut, p.mount()
}

// Unmount unmounts the filesystem for good, keeping unsynced writes (an
// orderly shutdown).
func (p *FS) Unmount() error {
	err := p.unmount()
	p.mu.Lock()
	for _, s := range p.files {
		s.f.Close()
	}
	p.files = map[uint64]*fileState{}
	p.mu.Unlock()
	return err
}

func (p *FS) unmount() error {
	if p.srv == nil {
		return nil
	}
	var err error
	for range 50 {
		if err = p.srv.Unmount(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		// Something still holds a file open: detach the mount (the kernel
		// fails its remaining requests) and stop serving.
		if derr := syscall.Unmount(p.Mnt, syscall.MNT_DETACH); derr != nil {
			return fmt.Errorf("powercut: unmount %s: %v; detach: %w", p.Mnt, err, derr)
		}
	}
	p.srv.Wait()
	p.srv = nil
	return nil
}

func (s *fileState) rollBack() error {
	for i := len(s.undo) - 1; i >= 0; i-- {
		e := s.undo[i]
		if len(e.old) > 0 {
			if _, err := s.f.WriteAt(e.old, e.off); err != nil {
				return err
			}
		}
		if e.shrink {
			// A shrink: what lies past its new end goes, the old tail
			// comes back as holes with its non-zero blocks.
			if err := s.f.Truncate(e.off); err != nil {
				return err
			}
		}
		if err := s.f.Truncate(e.oldSize); err != nil {
			return err
		}
		for _, b := range e.tail {
			if _, err := s.f.WriteAt(b.data, b.off); err != nil {
				return err
			}
		}
	}
	s.undo, s.written = nil, 0
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// state returns the undo log of backing inode ino, opening the file with
// open the first time. Callers hold p.mu.
func (p *FS) state(ino uint64, open func() (*os.File, error)) (*fileState, error) {
	if s := p.files[ino]; s != nil {
		return s, nil
	}
	f, err := open()
	if err != nil {
		return nil, err
	}
	s := &fileState{f: f}
	p.files[ino] = s
	return s, nil
}

// pathState is state for the backing file at path.
func (p *FS) pathState(path string) (*fileState, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, err
	}
	return p.state(st.Ino, func() (*os.File, error) { return os.OpenFile(path, os.O_RDWR, 0) })
}

// before saves, in s's undo log, what a change of [off, off+n) (n < 0: a
// change of size to off) is about to replace. Callers hold p.mu.
func (p *FS) before(s *fileState, off, n int64) error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	e := undoEntry{off: off, oldSize: fi.Size()}
	switch {
	case n > 0 && off < e.oldSize:
		e.old = make([]byte, min(n, e.oldSize-off))
		if _, err := s.f.ReadAt(e.old, off); err != nil {
			return err
		}
	case n < 0 && off < e.oldSize:
		e.shrink = true
		buf := make([]byte, tailBlock)
		for at := off; at < e.oldSize; at += tailBlock {
			b := buf[:min(tailBlock, e.oldSize-at)]
			if _, err := s.f.ReadAt(b, at); err != nil {
				return err
			}
			if !allZero(b) {
				e.tail = append(e.tail, block{at, bytes.Clone(b)})
			}
		}
	}
	s.undo = append(s.undo, e)
	p.stats.Writes++
	return nil
}

func (p *FS) synced(ino uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Fsyncs++
	if s := p.files[ino]; s != nil {
		s.undo, s.written = nil, 0
	}
}

// node is a loopback node whose files log their changes.
type node struct {
	fs.LoopbackNode
	pc *FS
}

var (
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.FileReader         = (*file)(nil)
	_ fs.FileWriter         = (*file)(nil)
	_ fs.FileFsyncer        = (*file)(nil)
	_ fs.FileReleaser       = (*file)(nil)
	_ fs.FileFlusher        = (*file)(nil)
	_ fs.FileGetattrer      = (*file)(nil)
	_ fs.FileSetattrer      = (*file)(nil)
	_ fs.FileAllocater      = (*file)(nil)
	_ fs.FileLseeker        = (*file)(nil)
)

// backingPath is the node's file in the backing directory.
func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(n.RootData.RootNode.EmbeddedInode()))
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	f, errno := n.pc.wrap(n, fh)
	return f, fl, errno
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	f, errno := n.pc.wrap(ch.Operations().(*node), fh)
	return ch, f, fl, errno
}

// wrap makes a loopback handle a logged one, keyed by its backing inode
// (which the handle keeps even if the file is renamed or unlinked).
func (p *FS) wrap(n *node, fh fs.FileHandle) (*file, syscall.Errno) {
	lf := fh.(*fs.LoopbackFile)
	fd, ok := lf.PassthroughFd()
	if !ok {
		lf.Release(context.Background())
		return nil, syscall.EBADF
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		lf.Release(context.Background())
		return nil, fs.ToErrno(err)
	}
	return &file{lf: lf, n: n, ino: st.Ino, fd: fd}, 0
}

// Setattr logs a change of size before making it (a truncation through
// a path, or through a handle: file.Setattr).
func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	pf, _ := f.(*file)
	if sz, ok := in.GetSize(); ok {
		n.pc.mu.Lock()
		var s *fileState
		var err error
		if pf != nil {
			s, err = pf.state()
		} else {
			s, err = n.pc.pathState(n.backingPath())
		}
		if err == nil {
			err = n.pc.before(s, int64(sz), -1)
		}
		n.pc.mu.Unlock()
		if err != nil {
			return fs.ToErrno(err)
		}
	}
	if pf != nil {
		f = pf.lf
	}
	return n.LoopbackNode.Setattr(ctx, f, in, out)
}

// Fsync of a directory: namespace operations are durable at once.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if pf, ok := f.(*file); ok {
		return pf.Fsync(ctx, flags)
	}
	return 0
}

// CopyFileRange is refused: the kernel then copies through read and write,
// which are logged.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, len uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// file is a handle on a loopback file whose changes are logged. It is not
// a passthrough file: every write reaches the server.
type file struct {
	lf  *fs.LoopbackFile
	n   *node
	ino uint64 // of the backing file
	fd  int    // lf's descriptor
}

// state is the undo log of the handle's backing file. Callers hold p.mu.
func (f *file) state() (*fileState, error) {
	return f.n.pc.state(f.ino, func() (*os.File, error) {
		return os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.fd), os.O_RDWR, 0)
	})
}

func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return f.lf.Read(ctx, buf, off)
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	p := f.n.pc
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := f.state()
	if err == nil {
		err = p.before(s, off, int64(len(data)))
	}
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	n, err := s.f.WriteAt(data, off)
	s.written += int64(n)
	return uint32(n), fs.ToErrno(err)
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	f.n.pc.synced(f.ino)
	return 0
}

func (f *file) Release(ctx context.Context) syscall.Errno { return f.lf.Release(ctx) }
func (f *file) Flush(ctx context.Context) syscall.Errno   { return f.lf.Flush(ctx) }
func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.lf.Getattr(ctx, out)
}
func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.lf.Lseek(ctx, off, whence)
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return f.n.Setattr(ctx, f, in, out)
}

func (f *file) Allocate(ctx context.Context, off, sz uint64, mode uint32) syscall.Errno {
	p := f.n.pc
	p.mu.Lock()
	s, err := f.state()
	if err == nil {
		err = p.before(s, int64(off), int64(sz))
	}
	p.mu.Unlock()
	if err != nil {
		return fs.ToErrno(err)
	}
	return f.lf.Allocate(ctx, off, sz, mode)
}
