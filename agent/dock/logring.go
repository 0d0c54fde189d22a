package dock

import (
	"context"
	"log/slog"
	"sync"

	"github.com/berthdock/berth/agent/localapi"
)

// LogRing is a slog.Handler that keeps the last lines for `dockctl logs`
// and passes every record on to the next handler.
type LogRing struct {
	next  slog.Handler
	attrs []slog.Attr
	ring  *ring
}

type ring struct {
	mu    sync.Mutex
	lines []localapi.LogLine
	next  int
	full  bool
}

// NewLogRing keeps the last n records passed to next.
func NewLogRing(next slog.Handler, n int) *LogRing {
	return &LogRing{next: next, ring: &ring{lines: make([]localapi.LogLine, n)}}
}

func (h *LogRing) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *LogRing) Handle(ctx context.Context, r slog.Record) error {
	line := localapi.LogLine{Time: r.Time, Level: r.Level.String(), Message: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		line.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		line.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.ring.mu.Lock()
	h.ring.lines[h.ring.next] = line
	h.ring.next = (h.ring.next + 1) % len(h.ring.lines)
	h.ring.full = h.ring.full || h.ring.next == 0
	h.ring.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h *LogRing) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogRing{next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr(nil), h.attrs...), as...), ring: h.ring}
}

func (h *LogRing) WithGroup(name string) slog.Handler {
	return &LogRing{next: h.next.WithGroup(name), attrs: h.attrs, ring: h.ring}
}

// Last returns up to n most recent lines, oldest first.
func (h *LogRing) Last(n int) []localapi.LogLine {
	r := h.ring
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []localapi.LogLine
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}
