package localapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeDock struct {
	mu     sync.Mutex
	cycled []string
}

func (f *fakeDock) Status() Status {
	return Status{Dock: "dock-1", Slots: []Slot{{Index: 0, State: "copying", Serial: "R1", BytesTotal: 100, BytesCopied: 40}},
		Backlog: Backlog{Segments: 3, Bytes: 300}}
}
func (f *fakeDock) Devices() []Device { return []Device{{Serial: "R1", BatteryPct: 80}} }
func (f *fakeDock) Logs(n int) []LogLine {
	return []LogLine{{Time: time.Unix(0, 0), Level: "INFO", Message: "docked"}}
}
func (f *fakeDock) PowerCycle(ctx context.Context, slot int, by string) error {
	if slot != 0 {
		return ErrNoSlot
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cycled = append(f.cycled, by)
	return nil
}

func TestOverSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "la") // unix socket paths are limited to ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "dockd.sock")
	dock := &fakeDock{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Path: path, Dock: dock}).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket left behind: %v", err)
		}
	})
	c := NewClient(path)
	var st Status
	for i := 0; ; i++ { // the server may not be listening yet
		if err = c.Get(ctx, "status", &st); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || st.Dock != "dock-1" || st.Slots[0].BytesCopied != 40 {
		t.Fatalf("status %+v, %v", st, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode: %v %v", fi, err)
	}
	var devs []Device
	if err := c.Get(ctx, "devices", &devs); err != nil || len(devs) != 1 || devs[0].Serial != "R1" {
		t.Fatalf("devices %+v, %v", devs, err)
	}
	if err := c.PowerCycle(ctx, 0, "custodian-7"); err != nil {
		t.Fatal(err)
	}
	if err := c.PowerCycle(ctx, 9, "custodian-7"); err == nil || !strings.Contains(err.Error(), "no such slot") {
		t.Fatalf("unknown slot: %v", err)
	}
	dock.mu.Lock()
	defer dock.mu.Unlock()
	if len(dock.cycled) != 1 || dock.cycled[0] != "custodian-7" {
		t.Fatalf("power cycles %v", dock.cycled)
	}
}

// TestJSONNamesSnakeCase: every field dockctl --json prints (the local API's
// bodies) has an explicit snake_case JSON name, never a Go field name.
func TestJSONNamesSnakeCase(t *testing.T) {
	for _, v := range []any{Status{}, Slot{}, Offer{}, Device{}, Backlog{}, LogLine{}, errorBody{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || strings.ToLower(name) != name || strings.ContainsAny(name, " -") {
				t.Errorf("%s.%s: json name %q is not snake_case", typ.Name(), f.Name, name)
			}
		}
	}
}

// simDock is a dock on a simulated board.
type simDock struct {
	fakeDock
	sims []string
}

func (s *simDock) Simulate(slot string, present bool, by string) error {
	if slot != "A" {
		return ErrNoSlot
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sims = append(s.sims, fmt.Sprintf("%s %v %s", slot, present, by))
	return nil
}

func TestSimulate(t *testing.T) {
	tests := []struct {
		name   string
		dock   Dock
		path   string
		status int
	}{
		{"insert", &simDock{}, "/v1/sim/slots/A/insert", http.StatusOK},
		{"remove", &simDock{}, "/v1/sim/slots/A/remove", http.StatusOK},
		{"unknown slot", &simDock{}, "/v1/sim/slots/Q/insert", http.StatusNotFound},
		{"unknown action", &simDock{}, "/v1/sim/slots/A/shake", http.StatusNotFound},
		{"real hardware", &fakeDock{}, "/v1/sim/slots/A/insert", http.StatusConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, nil)
			req.Header.Set("X-Berth-User", "custodian-7")
			w := httptest.NewRecorder()
			Handler(tc.dock).ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("%s: %d %s, want %d", tc.path, w.Code, w.Body, tc.status)
			}
			sd, ok := tc.dock.(*simDock)
			if !ok || tc.status != http.StatusOK {
				return
			}
			want := "A true custodian-7"
			if strings.HasSuffix(tc.path, "remove") {
				want = "A false custodian-7"
			}
			if len(sd.sims) != 1 || sd.sims[0] != want {
				t.Fatalf("simulated %v, want [%s]", sd.sims, want)
			}
		})
	}
}
