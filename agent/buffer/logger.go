package buffer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// slogLogger adapts a *slog.Logger to badger.Logger. Badger's Info level is
// its own housekeeping (compactions, flattening, value-log rewrites), so it
// is logged at Debug; warnings and errors keep their level.
type slogLogger struct{ l *slog.Logger }

var _ badger.Logger = slogLogger{}

func (s slogLogger) log(level slog.Level, format string, args ...any) {
	if !s.l.Enabled(context.Background(), level) {
		return
	}
	s.l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (s slogLogger) Errorf(f string, a ...any)   { s.log(slog.LevelError, f, a...) }
func (s slogLogger) Warningf(f string, a ...any) { s.log(slog.LevelWarn, f, a...) }
func (s slogLogger) Infof(f string, a ...any)    { s.log(slog.LevelDebug, f, a...) }
func (s slogLogger) Debugf(f string, a ...any)   { s.log(slog.LevelDebug-4, f, a...) }
