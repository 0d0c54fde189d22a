package broker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"
)

// payloadFree is the handler mochi logs through: a packet attribute (mochi
// logs whole packets when it refuses or fails one) becomes its type, topic
// and payload size, and long strings are cut, so a refused 900 KB publish
// writes one short line, never its payload.
type payloadFree struct{ h slog.Handler }

// maxLogString bounds any string attribute mochi logs.
const maxLogString = 256

func (p payloadFree) Enabled(ctx context.Context, l slog.Level) bool { return p.h.Enabled(ctx, l) }

func (p payloadFree) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrub(a))
		return true
	})
	return p.h.Handle(ctx, out)
}

func (p payloadFree) WithAttrs(as []slog.Attr) slog.Handler {
	c := make([]slog.Attr, len(as))
	for i, a := range as {
		c[i] = scrub(a)
	}
	return payloadFree{p.h.WithAttrs(c)}
}

func (p payloadFree) WithGroup(name string) slog.Handler { return payloadFree{p.h.WithGroup(name)} }

func scrub(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, truncate(v.String(), maxLogString))
	case slog.KindGroup:
		as := v.Group()
		c := make([]any, len(as))
		for i, g := range as {
			c[i] = scrub(g)
		}
		return slog.Group(a.Key, c...)
	case slog.KindAny:
		switch pk := v.Any().(type) {
		case packets.Packet:
			return slog.String(a.Key, summary(&pk))
		case *packets.Packet:
			return slog.String(a.Key, summary(pk))
		case error:
			return slog.String(a.Key, truncate(pk.Error(), maxLogString))
		case []byte:
			return slog.String(a.Key, fmt.Sprintf("%d bytes", len(pk)))
		default:
			return slog.String(a.Key, truncate(fmt.Sprintf("%T", pk), maxLogString))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func summary(pk *packets.Packet) string {
	if pk == nil {
		return "<nil packet>"
	}
	return fmt.Sprintf("type %d topic %.80q payload %d bytes", pk.FixedHeader.Type, pk.TopicName, len(pk.Payload))
}
