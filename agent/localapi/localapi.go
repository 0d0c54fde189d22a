// Package localapi is dockd's local API for dockctl: JSON over HTTP on a
// unix socket (mode 0660, group of the custodians), so only people logged in
// on the dock with that group can ask for slots, devices and the backlog,
// power-cycle a hung recorder or read recent logs, and, on a simulated
// board, dock and take recorders to rehearse. It never touches footage.
package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Status is the dock at a glance.
type Status struct {
	Dock          string    `json:"dock"`
	Version       string    `json:"version"`
	Started       time.Time `json:"started"`
	MQTTConnected bool      `json:"mqtt_connected"`
	OutboxPending int       `json:"outbox_pending"`
	Backlog       Backlog   `json:"backlog"`
	Slots         []Slot    `json:"slots"`
}

// Slot is one slot's state.
type Slot struct {
	Index       int       `json:"slot"`
	Name        string    `json:"name,omitempty"` // as the board file names it (A-D)
	State       string    `json:"state"`
	Serial      string    `json:"serial,omitempty"`
	Officer     string    `json:"officer,omitempty"`
	Fault       string    `json:"fault,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	FaultClass  string    `json:"fault_class,omitempty"` // evidence, link, auth, charge, waiting, other (deploy/pi/LEDS.md)
	Next        string    `json:"next,omitempty"`        // what the custodian should do about the fault
	Charging    bool      `json:"charging"`
	Segments    int       `json:"segments"`
	Copied      int       `json:"copied"`
	Uploaded    int       `json:"uploaded"`
	Released    int       `json:"released"`
	BytesTotal  int64     `json:"bytes_total"`
	BytesCopied int64     `json:"bytes_copied"`
	Since       time.Time `json:"since"`
	Offer       *Offer    `json:"offer,omitempty"` // a checkout offer waiting for its officer
}

// Offer is a checkout offer standing in a slot: an officer tapped their
// card and the slot's LED shows them the recorder to take, until Expires.
type Offer struct {
	Officer string    `json:"officer"`
	Serial  string    `json:"serial"`
	Since   time.Time `json:"since"` // the tap
	Expires time.Time `json:"expires"`
	// Restored: kept across a dockd restart; the LED shows it again once
	// the same recorder is identified and ready.
	Restored bool `json:"restored"`
}

// Device is the last health snapshot of a recorder docked here.
type Device struct {
	Serial        string    `json:"serial"`
	Officer       string    `json:"officer,omitempty"`
	Firmware      string    `json:"firmware"`
	Slot          int       `json:"slot"`
	DockedAt      time.Time `json:"docked_at"`
	BatteryPct    int       `json:"battery_pct"`
	BatteryHealth int       `json:"battery_health_pct"`
	BatteryTempC  float64   `json:"battery_temp_c"`
	StorageFree   int64     `json:"storage_free"`
	StorageTotal  int64     `json:"storage_total"`
	StorageErrors int64     `json:"storage_errors"`
	ClockOffsetMs int64     `json:"clock_offset_ms"`
}

// Backlog is what the buffer holds that the collector has not receipted.
type Backlog struct {
	Segments       int       `json:"segments"`
	Bytes          int64     `json:"bytes"`
	Oldest         time.Time `json:"oldest,omitzero"`
	BufferBytes    int64     `json:"buffer_bytes"`
	BufferCapacity int64     `json:"buffer_capacity"`
}

// LogLine is one recent log record.
type LogLine struct {
	Time    time.Time         `json:"time"`
	Level   string            `json:"level"`
	Message string            `json:"msg"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// Dock is what the API serves; the dock agent implements it.
type Dock interface {
	Status() Status
	Devices() []Device
	PowerCycle(ctx context.Context, slot int, by string) error
	Logs(n int) []LogLine
}

// Simulator is a dock whose board may be simulated: a custodian rehearsing
// (or a test driving dockd from outside) docks and takes recorders with no
// hands on the slots. slot is the board file's name (A) or the index (0).
type Simulator interface {
	Simulate(slot string, present bool, by string) error
}

var (
	// ErrNoSlot is returned for an unknown slot.
	ErrNoSlot = errors.New("localapi: no such slot")
	// ErrNotSimulated is returned by Simulate on real hardware.
	ErrNotSimulated = errors.New("localapi: the board is real hardware, not simulated: dock the recorder by hand")
)

// Server serves the API on a unix socket.
type Server struct {
	Path string // socket path
	Dock Dock
	Log  *slog.Logger
}

// Handler returns the API's routes.
func Handler(d Dock) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { reply(w, http.StatusOK, d.Status()) })
	mux.HandleFunc("GET /v1/slots", func(w http.ResponseWriter, r *http.Request) { reply(w, http.StatusOK, d.Status().Slots) })
	mux.HandleFunc("GET /v1/devices", func(w http.ResponseWriter, r *http.Request) { reply(w, http.StatusOK, d.Devices()) })
	mux.HandleFunc("GET /v1/backlog", func(w http.ResponseWriter, r *http.Request) { reply(w, http.StatusOK, d.Status().Backlog) })
	mux.HandleFunc("GET /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n <= 0 || n > 10000 {
			n = 100
		}
		reply(w, http.StatusOK, d.Logs(n))
	})
	mux.HandleFunc("POST /v1/slots/{slot}/power-cycle", func(w http.ResponseWriter, r *http.Request) {
		slot, err := strconv.Atoi(r.PathValue("slot"))
		if err != nil {
			reply(w, http.StatusBadRequest, errorBody{fmt.Sprintf("slot %q is not a number", r.PathValue("slot"))})
			return
		}
		by := r.Header.Get("X-Berth-User")
		switch err := d.PowerCycle(r.Context(), slot, by); {
		case errors.Is(err, ErrNoSlot):
			reply(w, http.StatusNotFound, errorBody{err.Error()})
		case err != nil:
			reply(w, http.StatusInternalServerError, errorBody{err.Error()})
		default:
			reply(w, http.StatusOK, map[string]any{"slot": slot, "power_cycled": true})
		}
	})
	mux.HandleFunc("POST /v1/sim/slots/{slot}/{action}", func(w http.ResponseWriter, r *http.Request) {
		var present bool
		switch r.PathValue("action") {
		case "insert":
			present = true
		case "remove":
		default:
			reply(w, http.StatusNotFound, errorBody{fmt.Sprintf("unknown action %q: insert or remove", r.PathValue("action"))})
			return
		}
		sim, ok := d.(Simulator)
		if !ok {
			reply(w, http.StatusConflict, errorBody{ErrNotSimulated.Error()})
			return
		}
		slot := r.PathValue("slot")
		switch err := sim.Simulate(slot, present, r.Header.Get("X-Berth-User")); {
		case errors.Is(err, ErrNoSlot):
			reply(w, http.StatusNotFound, errorBody{err.Error()})
		case errors.Is(err, ErrNotSimulated):
			reply(w, http.StatusConflict, errorBody{err.Error()})
		case err != nil:
			reply(w, http.StatusInternalServerError, errorBody{err.Error()})
		default:
			reply(w, http.StatusOK, map[string]any{"slot": slot, "present": present})
		}
	})
	return mux
}

type errorBody struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Run listens on the socket until ctx ends, then shuts down and removes it.
func (s *Server) Run(ctx context.Context) error {
	if err := os.Remove(s.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("localapi: remove stale socket: %w", err)
	}
	ln, err := net.Listen("unix", s.Path)
	if err != nil {
		return fmt.Errorf("localapi: listen: %w", err)
	}
	if err := os.Chmod(s.Path, 0o660); err != nil {
		ln.Close()
		return fmt.Errorf("localapi: chmod socket: %w", err)
	}
	srv := &http.Server{Handler: Handler(s.Dock), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("localapi: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-done
	os.Remove(s.Path)
	return err
}
