//go:build !linux

package recsim

import (
	"context"
	"path/filepath"
)

type ptyPort struct{ path string }

func ptyLink(dir, serial string) string { return filepath.Join(dir, serial) }

func newPTY(string) (*ptyPort, error) { return nil, ErrNoPTY }

func (p *ptyPort) close() error { return nil }

func (s *Server) servePTY(context.Context, *ptyPort, *Recorder) error { return ErrNoPTY }
