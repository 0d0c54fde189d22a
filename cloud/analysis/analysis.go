// Package analysis is the collector's judgement: it rebuilds each recorder's
// timeline from the store (package timeline), checks the opening window of
// every recording resumed after an interruption for the wearer's spoken
// reason, turns timeline and health findings into alerts (package alert),
// stores them deduplicated, delivers the new ones, and escalates those left
// open.
//
// The opening window is read from the evidence store, not from a clip the
// dock sends separately: the dock uploads segments that follow an
// interruption before any other, so the original arrives first anyway, and
// judging the original (whose hash the receipt proves) leaves no second,
// unverified copy of footage to secure, retain and audit.
//
// The engine keeps no state of its own: what it has judged is the alerts
// table (an interruption with a spoken reason is recorded as a closed,
// informational alert), and what it must judge next is the store's
// analysis work (PassReport): a pass judges only the recorders something
// was committed about, or whose rules' clocks ran out, under per-recorder
// leases, so several collectors split the work, and every alert is
// delivered once through the store's announcement claim.
package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// Store is the part of the collector's store the engine uses.
type Store interface {
	// ClaimWork, Judged and RetryWork lease the recorders due for
	// judgement (changed, or a rule's deadline came): analysers sharing a
	// store split them, each judged once per change.
	ClaimWork(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.Work, error)
	Judged(ctx context.Context, owner string, done []store.Judgement) error
	RetryWork(ctx context.Context, owner, serial string, at time.Time) error
	DevicesOf(ctx context.Context, serials []string) ([]store.Device, error)
	Docks(ctx context.Context) ([]store.Dock, error)
	Slots(ctx context.Context, dock string) ([]store.Slot, error)
	AuditBreaks(ctx context.Context) ([]store.AuditBreak, error)
	// A batch of recorders is judged on what these read about all of
	// them at once, one statement each. Inventory, Dockings and
	// LateArrivals give the whole picture: what the recorder listed at
	// docking (pending until it arrives), the highest seq it assigned,
	// and footage older than the lookback that arrived recently (judged
	// all the same).
	SegmentsOf(ctx context.Context, spans []store.Span) (map[string][]store.Segment, error)
	InventoryOf(ctx context.Context, spans []store.Span) (map[string][]store.Inventoried, error)
	RecorderEventsOf(ctx context.Context, spans []store.Span) (map[string][]store.RecorderEvent, error)
	AssignmentsOf(ctx context.Context, spans []store.Span) (map[string][]store.Assignment, error)
	DockingsOf(ctx context.Context, serials []string) (map[string]store.DockingSummary, error)
	LateArrivalsOf(ctx context.Context, serials []string, since, before time.Time) (map[string]time.Time, error)
	DeviceHealthOf(ctx context.Context, spans []store.Span) (map[string][]store.HealthRecord, error)
	LiveAlertsOf(ctx context.Context, serials []string) (map[string][]store.Alert, error)
	AlertsByKeys(ctx context.Context, keys []string) (map[string]store.Alert, error)
	UpsertAlert(ctx context.Context, a store.Alert) (bool, error)
	// UpsertAlerts stores a batch's alerts in one transaction (flush).
	UpsertAlerts(ctx context.Context, as []store.Alert) ([]bool, error)
	AlertByKey(ctx context.Context, key string) (store.Alert, bool, error)
	Alerts(ctx context.Context, f store.AlertFilter) ([]store.Alert, error)
	CloseAlert(ctx context.Context, id int64, by string) error
	EscalateOnce(ctx context.Context, id int64, level int) (bool, error)
	// ClaimAnnouncement and Unannounced deliver every alert exactly once,
	// the engine's and those other parts raised (store.TrustKinds).
	ClaimAnnouncement(ctx context.Context, key string) (bool, error)
	ClaimAnnouncements(ctx context.Context, keys []string) (map[string]bool, error)
	Unannounced(ctx context.Context, limit int) ([]store.Alert, error)
}

// Verdict is the spoken-reason check of one opening window.
type Verdict struct {
	Spoken        bool
	SpeechSeconds float64
	Onset         float64 // seconds into the window of the first wearer speech; -1 if none
	Detail        string
	// Regions are the sounds heard, each with its judged source and why
	// (they go into the alert's evidence).
	Regions []alert.SpeechRegion
}

// ReasonChecker judges the opening window of a segment's footage, recorded
// by a recorder of model (the recorder's reported model; "" if never
// reported): the check's level rule is calibrated per model.
type ReasonChecker interface {
	Check(ctx context.Context, footage io.ReaderAt, size int64, model string, window, minSpeech time.Duration) (Verdict, error)
}

// Footage opens an evidence object by its receipt's object id.
type Footage interface {
	Open(ctx context.Context, objectID string) (io.ReaderAt, int64, error)
}

// Deliverer sends a new or escalated alert somewhere (MQTT, webhook).
type Deliverer interface {
	Deliver(ctx context.Context, a alert.Alert) error
}

// UnitPolicy is one unit's recording policy and how long before the upload
// deadline a recorder still out is warned about.
type UnitPolicy struct {
	Policy      rules.Policy
	OffloadWarn time.Duration
}

// Config of the engine.
type Config struct {
	Policy rules.Policy
	// Units overrides Policy and OffloadWarn per unit (the unit a
	// recorder's alerts go to).
	Units        map[string]UnitPolicy
	Health       health.Thresholds
	Lookback     time.Duration // how far back timelines are rebuilt (default 7 days)
	Every        time.Duration // period of Run (default 1 min)
	Escalate     time.Duration // escalate open alerts after this, doubling (0: 1 h; negative disables)
	OfflineAfter time.Duration // dock silence tolerated (default 10 min)
	OffloadWarn  time.Duration // warn this long before the 24 h deadline (default 4 h)
	// CheckAttempts: a spoken-reason check that failed this many times
	// (retried with exponential backoff from Every up to CheckBackoffMax)
	// raises its own alert (default 5, backoff cap 6 h).
	CheckAttempts   int
	CheckBackoffMax time.Duration
	// Owner names this engine in its work leases (default: host, process
	// and a random suffix). Lease is how long a claimed recorder is its
	// alone (default 10 min): one whose judgement failed or whose engine
	// stopped is judged by any engine after that. Batch recorders are
	// claimed at a time (default 100) and judged by Workers goroutines
	// (default 4).
	Owner   string
	Lease   time.Duration
	Batch   int
	Workers int
	// Rejudge bounds how long a recorder nothing happens to goes unjudged
	// (default 24 h); Refresh, how long the age in a standing condition's
	// detail (footage overdue for so long) may lag (default 1 h). Without
	// changes, a recorder is judged again only when one of its rules'
	// clocks runs out (a deadline, a resume window, a retry).
	Rejudge time.Duration
	Refresh time.Duration
	// Link, if set, makes the signed link to an alert's console page
	// that each delivery carries (alert.Links.For, by the alert's key).
	Link  func(alertKey string) string
	Clock clockwork.Clock // stamps, judges deadlines and paces Run (nil: the real clock)
}

func (c *Config) defaults() {
	if c.Policy == (rules.Policy{}) {
		c.Policy = rules.DefaultPolicy()
	}
	if c.Health == (health.Thresholds{}) {
		c.Health = health.DefaultThresholds()
	}
	if c.Lookback <= 0 {
		c.Lookback = 7 * 24 * time.Hour
	}
	if c.Every <= 0 {
		c.Every = time.Minute
	}
	if c.Escalate == 0 {
		c.Escalate = time.Hour
	}
	if c.OfflineAfter <= 0 {
		c.OfflineAfter = 10 * time.Minute
	}
	if c.OffloadWarn <= 0 {
		c.OffloadWarn = 4 * time.Hour
	}
	if c.CheckAttempts <= 0 {
		c.CheckAttempts = 5
	}
	if c.CheckBackoffMax <= 0 {
		c.CheckBackoffMax = 6 * time.Hour
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
	if c.Lease <= 0 {
		c.Lease = 10 * time.Minute
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Rejudge <= 0 {
		c.Rejudge = 24 * time.Hour
	}
	if c.Refresh <= 0 {
		c.Refresh = time.Hour
	}
}

// policy returns the policy of unit: its own, or the engine's.
func (e *Engine) policy(unit string) UnitPolicy {
	if u, ok := e.cfg.Units[unit]; ok {
		return u
	}
	return UnitPolicy{Policy: e.cfg.Policy, OffloadWarn: e.cfg.OffloadWarn}
}

// Engine runs the analysis.
type Engine struct {
	cfg     Config
	st      Store
	footage Footage
	check   ReasonChecker
	deliver []Deliverer
	log     *slog.Logger
}

// New makes an engine. footage and check may be nil: interruptions are then
// raised as alerts with the reason unchecked.
func New(cfg Config, st Store, footage Footage, check ReasonChecker, deliver []Deliverer, log *slog.Logger) *Engine {
	cfg.defaults()
	return &Engine{cfg: cfg, st: st, footage: footage, check: check, deliver: deliver, log: log}
}

// Run analyses everything every cfg.Every until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := e.cfg.Clock.NewTicker(e.cfg.Every)
	defer t.Stop()
	for {
		if _, err := e.Pass(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("analysis pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
	}
}

// Pass judges once the recorders due (see PassReport) and every dock, and
// returns the alerts it created.
func (e *Engine) Pass(ctx context.Context) ([]alert.Alert, error) {
	r, err := e.PassReport(ctx)
	return r.Created, err
}

// conditions are findings about a state of affairs rather than an event:
// footage not yet in storage, a recorder due back. When the state ends (the
// footage arrived, the recorder docked) their alert is closed, so the inbox
// shows what still needs doing; the event findings (late upload, hole,
// interruption) stay until a person closes them.
var conditions = append(slices.Clone(deviceConditions), dockConditions...)

// deviceConditions are judged with their recorder, dockConditions with the
// docks.
var (
	deviceConditions = []string{timeline.KindUploadOverdue, timeline.KindOffloadDueSoon,
		health.KindBatteryWorn, health.KindBatteryHot, health.KindStorageErrors, health.KindStorageLow, health.KindStorageWorn,
		health.KindFirmwareOld}
	dockConditions = []string{health.KindDockOffline, health.KindBufferFilling, health.KindBacklogOld, KindSlotFault}
)

// closeLifted closes the docks' open or acknowledged condition alerts
// (of kinds) whose finding no longer holds.
func (e *Engine) closeLifted(ctx context.Context, kinds []string, standing map[string]bool) error {
	var live []store.Alert
	for _, state := range []string{store.AlertOpen, store.AlertAcknowledged} {
		for _, k := range kinds {
			as, err := e.st.Alerts(ctx, store.AlertFilter{State: state, Kind: k, Limit: 1 << 30})
			if err != nil {
				return err
			}
			live = append(live, as...)
		}
	}
	return e.closeLiftedOf(ctx, e.known(nil, nil), live, kinds, standing)
}

// closeLiftedOf closes those of the live alerts of kinds whose finding no
// longer holds.
func (e *Engine) closeLiftedOf(ctx context.Context, k *knownAlerts, live []store.Alert, kinds []string, standing map[string]bool) error {
	for _, a := range live {
		if standing[a.Key] || !slices.Contains(kinds, a.Kind) {
			continue
		}
		if err := k.close(ctx, a, "analysis: condition ended"); err != nil && !errors.Is(err, store.ErrState) {
			return err
		}
		e.log.Info("alert closed: condition ended", "key", a.Key, "kind", a.Kind, "serial", a.Serial)
	}
	return nil
}

// raise stores an alert and delivers it if it is new.
func (e *Engine) raise(ctx context.Context, k *knownAlerts, a alert.Alert) (bool, error) {
	a, write, err := e.toWrite(ctx, k, a)
	if err != nil || !write {
		return false, err
	}
	now := e.cfg.Clock.Now()
	created, err := k.upsert(ctx, toStore(a, now))
	if err != nil || !created {
		return false, err
	}
	a.State, a.Opened = store.AlertOpen, now
	e.deliverOnce(ctx, a)
	return true, nil
}

// toWrite reports whether alert a (its unit filled in, as returned) must
// be written: it is new, or changed and not closed. Every pass finds every
// finding again: write only what is new or changed. A read by the unique
// key (for a batch of recorders, one read of all their findings' keys)
// costs far less than the refresh transaction (on PostgreSQL it was most
// of a steady pass).
func (e *Engine) toWrite(ctx context.Context, k *knownAlerts, a alert.Alert) (alert.Alert, bool, error) {
	a.Unit = orUnassigned(a.Unit)
	old, ok, err := k.byKey(ctx, a.Key)
	if err != nil {
		return a, false, err
	}
	return a, !ok || (old.State != store.AlertClosed && !unchanged(old, a)), nil
}

// flush stores the alerts a batch's judgements raise (each new or
// changed: toWrite) in one transaction, then claims the new ones'
// announcements in one more and delivers those it claimed: each delivered
// once, by whichever engine or part claimed it; one stored but not claimed
// (the claim failed, the process stopped) is swept by the next pass
// (announcePending). It returns the alerts created.
func (e *Engine) flush(ctx context.Context, k *knownAlerts, pend []alert.Alert) ([]alert.Alert, error) {
	if len(pend) == 0 {
		return nil, nil
	}
	now := e.cfg.Clock.Now()
	sa := make([]store.Alert, len(pend))
	for i, a := range pend {
		sa[i] = toStore(a, now)
		k.forget(a.Key)
	}
	created, err := e.st.UpsertAlerts(ctx, sa)
	if err != nil {
		return nil, err
	}
	var out []alert.Alert
	var keys []string
	for i, a := range pend {
		if created[i] {
			a.State, a.Opened = store.AlertOpen, now
			out = append(out, a)
			keys = append(keys, a.Key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	claimed, err := e.st.ClaimAnnouncements(ctx, keys)
	if err != nil {
		e.log.Warn("alert announcements failed; the next pass retries", "alerts", len(keys), "err", err)
		return out, nil
	}
	for _, a := range out {
		if claimed[a.Key] {
			e.log.Info("alert raised", "key", a.Key, "kind", a.Kind, "unit", a.Unit, "serial", a.Serial)
			e.send(ctx, a)
		}
	}
	return out, nil
}

// unchanged reports whether refreshing old with a would change nothing the
// store refreshes (severity, title, detail, time, evidence).
func unchanged(old store.Alert, a alert.Alert) bool {
	if old.Severity != a.Severity || old.Title != a.Title || old.Detail != a.Detail || !old.At.Equal(a.At) {
		return false
	}
	var ev alert.Evidence
	if err := json.Unmarshal(old.Evidence, &ev); err != nil {
		return false
	}
	// Both through the same encoder: equal bytes are equal evidence.
	x, err1 := json.Marshal(ev)
	y, err2 := json.Marshal(a.Evidence)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func (e *Engine) send(ctx context.Context, a alert.Alert) {
	a.Cite() // every delivery names the rule and its articles
	if e.cfg.Link != nil {
		a.Link = e.cfg.Link(a.Key) // fresh on each delivery: an escalation's link is good again
	}
	for _, d := range e.deliver {
		if err := d.Deliver(ctx, a); err != nil {
			e.log.Warn("alert delivery failed", "key", a.Key, "err", err)
		}
	}
}

// Announce delivers an alert another part of the collector raised in the
// store (the upload endpoint's refusals and receipt conflicts) through the
// engine's deliveries, as the engine does its own new alerts, unless
// another delivery claimed it first.
func (e *Engine) Announce(ctx context.Context, a store.Alert) {
	e.deliverOnce(ctx, fromStore(a))
}

// deliverOnce claims a new alert's announcement and delivers it if this
// call made the claim: whichever engine or part raised or swept it, it is
// delivered once. One not claimed (the claim failed, or the process
// stopped before it) is swept by the next pass (announcePending).
func (e *Engine) deliverOnce(ctx context.Context, a alert.Alert) {
	ok, err := e.st.ClaimAnnouncement(ctx, a.Key)
	if err != nil {
		e.log.Warn("alert announcement failed; the next pass retries", "key", a.Key, "err", err)
		return
	}
	if !ok {
		return
	}
	a.Unit = orUnassigned(a.Unit)
	e.log.Info("alert raised", "key", a.Key, "kind", a.Kind, "unit", a.Unit, "serial", a.Serial)
	e.send(ctx, a)
}

// announcePending delivers the open alerts nobody has delivered yet: those
// Commit's screening raised while ingesting, and any whose announcement
// failed or whose engine stopped before it.
func (e *Engine) announcePending(ctx context.Context) error {
	as, err := e.st.Unannounced(ctx, 0)
	if err != nil {
		return err
	}
	for _, a := range as {
		e.Announce(ctx, a)
	}
	return nil
}

// escalate raises the level of alerts left open and delivers them again.
func (e *Engine) escalate(ctx context.Context) error {
	if e.cfg.Escalate <= 0 {
		return nil
	}
	open, err := e.st.Alerts(ctx, store.AlertFilter{State: store.AlertOpen})
	if err != nil {
		return err
	}
	now := e.cfg.Clock.Now()
	for _, sa := range open {
		a := fromStore(sa)
		if !a.EscalationDue(now, e.cfg.Escalate) {
			continue
		}
		// Several collectors may escalate it: the one that did delivers.
		if ok, err := e.st.EscalateOnce(ctx, sa.ID, sa.Escalation+1); err != nil {
			return err
		} else if !ok {
			continue
		}
		a.Escalation++
		a.Title = fmt.Sprintf("[escalation %d] %s", a.Escalation, a.Title)
		e.send(ctx, a)
	}
	return nil
}

func fromStore(s store.Alert) alert.Alert {
	a := alert.Alert{Key: s.Key, Kind: s.Kind, Severity: s.Severity, Unit: s.Unit, Officer: s.Officer, Serial: s.Serial,
		Seq: s.Seq, Dock: s.Dock, Title: s.Title, Detail: s.Detail, At: s.At, State: s.State, Opened: s.OpenedAt,
		Escalation: s.Escalation}
	json.Unmarshal(s.Evidence, &a.Evidence)
	return a
}

// hungAfter is how long a slot's link fault must stand before the recorder
// counts as hung (the dock retries a dropped link at once).
const hungAfter = 2 * time.Minute

// docks raises the custodian's dock alerts, one per dock (or slot) and
// condition: dock health, slot faults, and breaks of a dock's audit chain
// (critical: the record of what the dock did can no longer be trusted).
func (e *Engine) docks(ctx context.Context, docks []store.Dock, standing map[string]bool) ([]alert.Alert, error) {
	var out []alert.Alert
	now := e.cfg.Clock.Now()
	k := e.known(nil, nil)
	raise := func(a alert.Alert, condition bool) error {
		if condition {
			standing[a.Key] = true
		}
		ok, err := e.raise(ctx, k, a)
		if ok {
			out = append(out, a)
		}
		return err
	}
	unit := map[string]string{}
	for _, d := range docks {
		unit[d.ID] = d.Unit
		if !d.Enrolled || d.LastSeen.IsZero() {
			continue
		}
		for _, f := range health.Dock(d.ID, d.State, d.LastSeen, now, e.cfg.OfflineAfter, e.cfg.Health) {
			live, err := e.liveOfKind(ctx, f.Kind)
			if err != nil {
				return out, err
			}
			live = slices.DeleteFunc(live, func(a store.Alert) bool { return a.Dock != d.ID })
			a := alert.Alert{Key: standingKey(live, f.Kind, d.ID, d.LastSeen), Kind: f.Kind, Severity: f.Severity, Unit: d.Unit, Dock: d.ID,
				Title: healthTitles[f.Kind] + ": " + d.ID, Detail: f.Detail, At: d.LastSeen}
			if err := raise(a, true); err != nil {
				return out, err
			}
		}
	}
	slots, err := e.st.Slots(ctx, "")
	if err != nil {
		return out, err
	}
	for _, sl := range slots {
		what, ok := custodianFaults[sl.State.Fault]
		if sl.State.State != wire.SlotFault || !ok {
			continue
		}
		if sl.State.Fault == wire.SlotFaultLink && now.Sub(sl.UpdatedAt) < hungAfter {
			continue // a link that dropped is re-opened at once: hung only if it stays down
		}
		a := alert.Alert{Key: fmt.Sprintf("%s/%s/%d/%s", KindSlotFault, sl.Dock, sl.State.Slot, sl.State.Fault), Kind: KindSlotFault,
			Severity: alert.SeverityWarning, Unit: unit[sl.Dock], Serial: sl.State.Serial, Dock: sl.Dock,
			Title: fmt.Sprintf("%s: %s slot %d: %s", healthTitles[KindSlotFault], sl.Dock, sl.State.Slot, what),
			Detail: fmt.Sprintf("slot %d of dock %s: %s (%s) since %s", sl.State.Slot, sl.Dock, sl.State.Fault, sl.State.Detail,
				sl.UpdatedAt.UTC().Format(time.RFC3339)), At: sl.UpdatedAt}
		if err := raise(a, true); err != nil {
			return out, err
		}
	}
	breaks, err := e.st.AuditBreaks(ctx)
	if err != nil {
		return out, err
	}
	for _, b := range breaks {
		a := alert.Alert{Key: fmt.Sprintf("%s/%s/%d", KindAuditBreak, b.Dock, b.ID), Kind: KindAuditBreak,
			Severity: alert.SeverityCritical, Unit: unit[b.Dock], Dock: b.Dock, Serial: b.Record.Serial,
			Title:  healthTitles[KindAuditBreak] + ": " + b.Dock,
			Detail: fmt.Sprintf("record %d of dock %s (message %s): %s: %s", b.Index, b.Dock, b.MsgID, b.Kind, b.Detail),
			At:     b.DetectedAt}
		if err := raise(a, false); err != nil {
			return out, err
		}
	}
	return out, nil
}
