package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/timeline"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/rules"
)

// Alert kinds the engine raises beyond the timeline's and health's own.
const (
	KindUnexplained = "interruption-unexplained" // resumed without the spoken reason
	KindExplained   = "interruption-explained"   // resumed with it: recorded, closed
	KindUnchecked   = "interruption-unchecked"   // footage not available to check (yet)
)

// severities of timeline findings.
var severity = map[string]string{
	timeline.KindAbnormalNoResume: alert.SeverityWarning,
	timeline.KindSequenceHole:     alert.SeverityCritical,
	timeline.KindSequenceReused:   alert.SeverityCritical,
	timeline.KindOverlap:          alert.SeverityWarning,
	timeline.KindHashMismatch:     alert.SeverityCritical,
	timeline.KindLateUpload:       alert.SeverityWarning,
	timeline.KindUploadOverdue:    alert.SeverityCritical,
	timeline.KindOffloadDueSoon:   alert.SeverityWarning,
	KindTailLost:                  alert.SeverityCritical,
	KindReasonCheckFailed:         alert.SeverityWarning,
}

var titles = map[string]string{
	KindUnexplained:               "录制中断后恢复未口头说明原因 Recording resumed without a spoken reason",
	KindExplained:                 "录制中断后恢复并已说明原因 Recording resumed with a spoken reason",
	KindUnchecked:                 "录制中断后恢复，待核查 Recording resumed; reason not yet checked",
	timeline.KindAbnormalNoResume: "录制异常中断未恢复，需书面说明 Recording stopped abnormally; written explanation due",
	timeline.KindSequenceHole:     "视音频缺失 Footage missing (sequence hole)",
	timeline.KindSequenceReused:   "序号重复 Sequence number reused",
	timeline.KindOverlap:          "片段时间重叠 Segments overlap in time",
	timeline.KindHashMismatch:     "校验不一致 Hash mismatch",
	timeline.KindLateUpload:       "超过24小时上传 Footage stored after 24 hours",
	timeline.KindUploadOverdue:    "超过24小时未入库 Footage not in storage after 24 hours",
	timeline.KindOffloadDueSoon:   "执法记录仪需尽快归还 Recorder must be docked soon",
	KindTailLost:                  "序列末尾视音频缺失 Footage lost at the end of the sequence",
	KindReasonCheckFailed:         "口头说明核查失败 Spoken-reason check keeps failing",
}

// KindTailLost: the recorder assigned sequence numbers above the last
// segment it still lists, and was not recording: footage lost at the end
// of its sequence.
const KindTailLost = "sequence-tail-lost"

// contextWindow is how much earlier than the oldest footage to judge the
// timeline is re-read: the recordings an interruption or a hole needs
// around it (the abnormal resume window, with room to spare).
const contextWindow = 24 * time.Hour

// withdrawable are the event findings judged on the whole inventory: one
// that stops holding (its segment arrived, the stop was resumed after all)
// is withdrawn with the reason, never left open nor closed silently.
var withdrawable = []string{timeline.KindSequenceHole, KindTailLost, timeline.KindAbnormalNoResume}

// recorderContext is what a recorder is judged on, read for a whole batch
// of recorders with one statement per table (readBatch).
type recorderContext struct {
	from    time.Time // start of the footage re-read: the lookback, or older footage that arrived within it
	segs    []store.Segment
	inv     []store.Inventoried
	sum     store.DockingSummary
	docked  bool // sum is of its dockings; false: none reported
	hist    []store.HealthRecord
	logged  []store.RecorderEvent
	checked []store.Assignment
	// live are its alerts still open or acknowledged (open first, each
	// newest first): those a finding no longer holds for are withdrawn or
	// closed. (Alerts raised by this judgement hold by definition.)
	live []store.Alert
}

// readBatch reads, at now, the context of the recorders devs, one
// statement per table for all of them. late maps a recorder to the start
// of the oldest footage that arrived within the lookback: it is judged
// too, however old.
func (e *Engine) readBatch(ctx context.Context, now time.Time, devs []store.Device, late map[string]time.Time) (map[string]*recorderContext, error) {
	out := make(map[string]*recorderContext, len(devs))
	serials := make([]string, len(devs))
	var segs, around, past []store.Span
	for i, d := range devs {
		from := now.Add(-e.cfg.Lookback)
		if lf := late[d.Serial]; !lf.IsZero() && lf.Add(-contextWindow).Before(from) {
			from = lf.Add(-contextWindow)
		}
		out[d.Serial] = &recorderContext{from: from}
		serials[i] = d.Serial
		segs = append(segs, store.Span{Serial: d.Serial, From: from, To: now.Add(time.Hour)})
		// Device times (the inventory, the recorder's own log): a
		// drifting clock is within a day of true time.
		around = append(around, store.Span{Serial: d.Serial, From: from.Add(-contextWindow), To: now.Add(contextWindow)})
		// Health snapshots (clock syncs) and checkouts from a lookback
		// earlier still: the sync before the first segment, the officer
		// who took the recorder before it.
		past = append(past, store.Span{Serial: d.Serial, From: from.Add(-e.cfg.Lookback), To: now.Add(time.Hour)})
	}
	sg, err := e.st.SegmentsOf(ctx, segs)
	if err != nil {
		return nil, err
	}
	inv, err := e.st.InventoryOf(ctx, around)
	if err != nil {
		return nil, err
	}
	sums, err := e.st.DockingsOf(ctx, serials)
	if err != nil {
		return nil, err
	}
	hist, err := e.st.DeviceHealthOf(ctx, past)
	if err != nil {
		return nil, err
	}
	logged, err := e.st.RecorderEventsOf(ctx, around)
	if err != nil {
		return nil, err
	}
	checked, err := e.st.AssignmentsOf(ctx, past)
	if err != nil {
		return nil, err
	}
	live, err := e.st.LiveAlertsOf(ctx, serials)
	if err != nil {
		return nil, err
	}
	for sn, c := range out {
		c.segs, c.inv, c.hist, c.logged, c.checked, c.live = sg[sn], inv[sn], hist[sn], logged[sn], checked[sn], live[sn]
		c.sum, c.docked = sums[sn]
	}
	return out, nil
}

// assessment is a recorder's judgement before anything of it is stored:
// the alerts its findings raise, in order, and what the rest of the
// judgement needs (assess makes it without the store; act stores it).
type assessment struct {
	d        store.Device
	c        *recorderContext
	up       UnitPolicy
	found    []alert.Alert // the timeline's findings (interruptions still to judge)
	health   []alert.Alert // then the health findings
	bySeq    map[uint64]store.Segment
	pending  map[uint64]bool // inventoried, not reported yet
	held     map[string]bool // keys of the findings that hold now
	standing map[string]bool // keys of condition findings that still hold
	// wholeSeq: the sequence is judged on a whole inventory; missing are
	// its holes and lost tail, seqs lo..hi what it covers.
	wholeSeq bool
	missing  []timeline.Finding
	lo, hi   uint64
	wk       *wake
}

// assess judges recorder d on its context c at now: timeline findings on
// the whole inventory, health of its last docking, and the offload
// countdown.
func (e *Engine) assess(d store.Device, c *recorderContext, now time.Time) *assessment {
	as := &assessment{d: d, c: c, up: e.policy(d.Unit), bySeq: map[uint64]store.Segment{}, pending: map[uint64]bool{},
		held: map[string]bool{}, standing: map[string]bool{}, wk: &wake{now: now}}
	evs := make([]timeline.Event, len(c.logged))
	for i, v := range c.logged {
		evs[i] = timeline.Event{Index: v.Index, Time: v.Time, Kind: v.Kind, Seq: v.Seq, Detail: v.Detail, Disputed: v.Disputed}
	}
	var syncs []timeline.Sync
	for _, h := range c.hist {
		syncs = append(syncs, timeline.Sync{At: h.Health.DockClock, Offset: time.Duration(h.Health.ClockOffsetMs) * time.Millisecond, Set: h.Health.ClockSet})
	}
	tsegs := make([]timeline.Segment, 0, len(c.segs)+len(c.inv))
	var maxSeq uint64
	fileTimed := false // a legacy mass-storage recorder: its inventory is too
	for _, s := range c.segs {
		as.bySeq[s.Seq] = s
		maxSeq = max(maxSeq, s.Seq)
		ft := s.TimeSource == wire.TimeSourceFile
		fileTimed = fileTimed || ft
		tsegs = append(tsegs, timeline.Segment{Seq: s.Seq, Start: s.Start, End: s.End, StopCause: s.StopCause, Officer: s.Officer,
			SHA256: s.SHA256, Computed: s.Computed, ReceivedAt: s.ReceivedAt, FileTimes: ft})
	}
	// Inventoried and not reported yet: pending, part of the picture.
	for _, v := range c.inv {
		if _, ok := as.bySeq[v.Seq]; ok {
			continue
		}
		as.pending[v.Seq] = true
		maxSeq = max(maxSeq, v.Seq)
		tsegs = append(tsegs, timeline.Segment{Seq: v.Seq, Start: v.Start, End: v.End, StopCause: v.StopCause, Officer: d.Officer,
			SHA256: v.SHA256, FileTimes: fileTimed})
	}
	up := as.up
	tl := timeline.BuildWithEvents(d.Serial, tsegs, evs, syncs, up.Policy)
	// Who carried it: an officer who checked it out at a dock, for what
	// was recorded until its next docking.
	assigned := make([]timeline.Assignment, len(c.checked))
	for i, a := range c.checked {
		assigned[i] = timeline.Assignment{Officer: a.Officer, From: a.From, Until: a.Until}
	}
	tl.Assign(assigned)
	findings := timeline.Analyze(tl, up.Policy, now)
	clocks := make([]segClock, len(tl.Segments))
	for i, s := range tl.Segments {
		clocks[i] = segClock{end: s.End, received: s.ReceivedAt, cause: s.StopCause}
	}
	as.wk.deadlines(clocks, d.LastDockedAt, up)
	// Holes are judged only on a whole inventory: the latest docking's
	// parts are all in, and nothing newer arrived ahead of its inventory.
	// Without any docking report (a dock that does not send them) the
	// sequence is judged on what arrived.
	sum, docked := c.sum, c.docked
	wholeSeq := !docked || sum.Listed && maxSeq <= sum.LastSeq
	if !wholeSeq {
		findings = slices.DeleteFunc(findings, func(f timeline.Finding) bool { return f.Kind == timeline.KindSequenceHole })
	} else if docked && !sum.Recording && sum.LastSeq > maxSeq && len(tsegs) > 0 {
		findings = append(findings, timeline.Finding{Kind: KindTailLost, Serial: d.Serial, Seq: maxSeq + 1, Officer: d.Officer,
			At: sum.Latest, MissingFrom: maxSeq + 1, MissingTo: sum.LastSeq,
			Detail: fmt.Sprintf("seq %d..%d missing after the last listed segment %d: the recorder assigned up to %d (docked %s at %s)",
				maxSeq+1, sum.LastSeq, maxSeq, sum.LastSeq, sum.Latest.Format(time.RFC3339), sum.Dock)})
	}
	carrier := d.Officer
	if o := timeline.OfficerAt(assigned, now); o != "" {
		carrier = o
	}
	if f, ok := timeline.OffloadDue(d.Serial, carrier, d.LastDockedAt, now, up.Policy, up.OffloadWarn); ok && !d.LastDockedAt.IsZero() {
		findings = append(findings, f)
	}

	for _, f := range findings {
		a := alert.Alert{Key: f.Key(), Kind: f.Kind, Severity: severity[f.Kind], Unit: as.unitOf(f), Officer: f.Officer,
			Serial: d.Serial, Seq: f.Seq, Dock: as.bySeq[f.Seq].Dock, Title: titles[f.Kind], Detail: f.Detail, At: f.At,
			Evidence: alert.Evidence{StoppedAt: f.StoppedAt, ResumedAt: f.ResumedAt, StopCause: f.StopCause,
				StopCauseFrom: f.StopCauseFrom, Events: evidenceEvents(f.Events)}}
		if f.Kind == timeline.KindOffloadDueSoon {
			// One alert per docking that started the countdown.
			a.Key = fmt.Sprintf("%s/%s/%d", f.Kind, d.Serial, d.LastDockedAt.Unix())
		}
		if slices.Contains(conditions, f.Kind) {
			as.standing[a.Key] = true
		}
		if f.Kind == KindTailLost {
			// Keyed as the hole the same numbers become once the recorder
			// lists later segments: one alert for the lost footage, not a
			// withdrawal and a new alert.
			a.Key = fmt.Sprintf("%s/%s/%d-%d", timeline.KindSequenceHole, d.Serial, f.MissingFrom, f.MissingTo)
		}
		as.held[a.Key] = true
		if f.Kind == timeline.KindInterruption {
			if r := as.bySeq[f.Seq]; as.pending[f.Seq] || r.Receipt == nil && r.State != wire.SegFault {
				// The resumed footage is on its way: judged when it
				// arrives, no "unchecked" alert meanwhile.
				continue
			}
		}
		as.found = append(as.found, a)
	}
	if wholeSeq && len(tsegs) > 0 {
		as.wholeSeq, as.lo, as.hi = true, minSeq(tsegs), maxSeq
		for _, f := range findings {
			if f.Kind == timeline.KindSequenceHole || f.Kind == KindTailLost {
				as.missing = append(as.missing, f)
			}
		}
	}
	as.health = e.deviceHealth(d, c.hist, c.from, c.live, as.standing)
	return as
}

// unitOf is the unit finding f's alert goes to. A finding about footage
// goes where the footage does: to the unit of the segment it is about
// (store.Segment.Unit, the store's one judgement of whose footage a
// segment is, which decides who may view the clip), and for footage
// missing (a hole, a lost tail) to that of the segment recorded before it,
// else after it. This differs from the recorder's unit only for a
// recorder enrolled nowhere: its footage stays the unit's of the dock
// that uploaded it, while the recorder follows the dock that last docked
// it, so footage one unit's dock uploaded is not judged in another's
// inbox when the recorder moves on. The recorder's own condition (its
// deadline to be docked), footage no dock has reported yet and footage of
// no known unit go to the recorder's unit.
func (as *assessment) unitOf(f timeline.Finding) string {
	seqs := []uint64{f.Seq}
	switch f.Kind {
	case timeline.KindOffloadDueSoon:
		return as.d.Unit
	case timeline.KindSequenceHole, KindTailLost:
		seqs = []uint64{f.MissingFrom - 1, f.MissingTo + 1}
	}
	for _, seq := range seqs {
		if g, ok := as.bySeq[seq]; ok && g.Unit != "" {
			return g.Unit
		}
	}
	return as.d.Unit
}

// keys are the alert keys act looks up: its findings', and for an
// interruption those of each verdict its check may reach.
func (as *assessment) keys() []string {
	var out []string
	for _, a := range as.found {
		out = append(out, a.Key)
		if a.Kind == timeline.KindInterruption {
			for _, k := range []string{KindUnexplained, KindExplained, KindUnchecked, KindReasonCheckFailed} {
				out = append(out, k+keySuffix(a))
			}
		}
	}
	for _, a := range as.health {
		out = append(out, a.Key)
	}
	return out
}

// act stores an assessment: judges the interruptions' spoken reasons,
// withdraws what no longer holds on the whole picture, closes the
// recorder's conditions that ended, and returns the alerts to raise (new
// or changed: the batch stores them at once, flush) and when the recorder
// must be judged again if nothing changes.
func (e *Engine) act(ctx context.Context, as *assessment, k *knownAlerts) ([]alert.Alert, time.Time, error) {
	var out []alert.Alert
	raise := func(a alert.Alert) error {
		a, write, err := e.toWrite(ctx, k, a)
		if write {
			out = append(out, a)
		}
		return err
	}
	for _, a := range as.found {
		if a.Kind == timeline.KindInterruption {
			var err error
			if a, err = e.judge(ctx, k, a, as.d.Model, as.bySeq[a.Seq], as.up.Policy, as.wk); err != nil {
				return out, time.Time{}, err
			}
			if a.Kind == "" {
				continue // already judged
			}
		}
		if err := raise(a); err != nil {
			return out, time.Time{}, err
		}
	}
	if as.wholeSeq {
		if err := e.withdraw(ctx, k, as.d.Serial, as.c.live, as.held, as.missing, as.lo, as.hi); err != nil {
			return out, time.Time{}, err
		}
	}
	for _, a := range as.health {
		if err := raise(a); err != nil {
			return out, time.Time{}, err
		}
	}
	if err := e.closeLiftedOf(ctx, k, as.c.live, deviceConditions, as.standing); err != nil {
		return out, time.Time{}, err
	}
	now := as.wk.now
	if len(as.standing) > 0 {
		as.wk.by(now.Add(e.cfg.Refresh)) // the age in an overdue alert's detail
	}
	as.wk.by(now.Add(e.cfg.Rejudge))
	return out, as.wk.at, nil
}

// withdraw closes, with the reason recorded and delivered, the live
// (open or acknowledged) withdrawable alerts of serial about seqs in [lo, hi+1] whose finding no
// longer holds on the whole picture; a hole whose range changed (missing
// lists the holes that hold) says so.
func (e *Engine) withdraw(ctx context.Context, k *knownAlerts, serial string, live []store.Alert, held map[string]bool, missing []timeline.Finding, lo, hi uint64) error {
	{
		for _, sa := range live {
			if !slices.Contains(withdrawable, sa.Kind) || held[sa.Key] || sa.Seq < lo || sa.Seq > hi+1 {
				continue
			}
			why := "the recorder's inventory accounts for the footage"
			if sa.Kind == timeline.KindAbnormalNoResume {
				why = "a later recording resumed it"
			}
			for _, f := range missing {
				if f.MissingFrom <= sa.Seq && sa.Seq <= f.MissingTo {
					why = fmt.Sprintf("the missing range is now seq %d..%d (%s)", f.MissingFrom, f.MissingTo, f.Detail)
				}
			}
			if err := k.close(ctx, sa, "analysis: withdrawn: "+why); errors.Is(err, store.ErrState) {
				continue // closed meanwhile (a person, another collector): theirs to tell
			} else if err != nil {
				return err
			}
			e.log.Info("alert withdrawn", "key", sa.Key, "kind", sa.Kind, "serial", serial, "why", why)
			a := fromStore(sa)
			a.State = store.AlertClosed
			a.Title = "[撤回 withdrawn] " + a.Title
			a.Detail = "withdrawn: " + why + "; was: " + a.Detail
			e.send(ctx, a)
		}
	}
	return nil
}

func minSeq(segs []timeline.Segment) uint64 {
	m := segs[0].Seq
	for _, s := range segs {
		m = min(m, s.Seq)
	}
	return m
}

// judge runs the spoken-reason check for an interruption once: the alert's
// key is the resumed segment's, so a judged interruption is found in the
// store and skipped (returned with an empty Kind).
func (e *Engine) judge(ctx context.Context, k *knownAlerts, a alert.Alert, model string, resumed store.Segment, p rules.Policy, wk *wake) (alert.Alert, error) {
	keys := []string{KindUnexplained, KindExplained}
	for _, kind := range keys {
		if _, ok, err := k.byKey(ctx, kind+keySuffix(a)); err != nil || ok {
			return alert.Alert{}, err
		}
	}
	if e.check == nil || e.footage == nil || resumed.Receipt == nil {
		// Not in the evidence store yet (or no checker): say so, and judge
		// again on a later pass; the unchecked alert stays as the record.
		a.Kind, a.Severity, a.Title = KindUnchecked, alert.SeverityInfo, titles[KindUnchecked]
		a.Key = KindUnchecked + keySuffix(a)
		return a, nil
	}
	// A check that failed before is retried with backoff, not every pass.
	prev, hadPrev, err := k.byKey(ctx, KindUnchecked+keySuffix(a))
	if err != nil {
		return alert.Alert{}, err
	}
	var pev alert.Evidence
	if hadPrev {
		json.Unmarshal(prev.Evidence, &pev)
		if e.cfg.Clock.Now().Before(pev.NextCheck) {
			wk.by(pev.NextCheck)
			return alert.Alert{}, nil
		}
	}
	v, err := e.checkReason(ctx, model, resumed, p)
	if err != nil {
		if ctx.Err() != nil {
			return alert.Alert{}, err // cut short, not failed: the next pass checks again
		}
		a, err := e.checkFailed(ctx, k, a, pev.CheckAttempts+1, err)
		wk.by(a.Evidence.NextCheck)
		return a, err
	}
	// Judged now: an earlier "not yet checked" record of this interruption
	// (raised while the footage was on its way) is superseded, not left
	// open and escalating beside the verdict.
	if err := e.supersede(ctx, k, KindUnchecked+keySuffix(a)); err != nil {
		return alert.Alert{}, err
	}
	spoken := v.Spoken
	a.Evidence.SpeechSeconds, a.Evidence.SpeechOnset, a.Evidence.ReasonSpoken = v.SpeechSeconds, v.Onset, &spoken
	a.Evidence.Regions = v.Regions
	a.Detail = fmt.Sprintf("%s; %.1f s of wearer speech in the first %s (need %s)", a.Detail, v.SpeechSeconds,
		p.OpeningWindow, p.MinSpeech)
	if spoken {
		a.Kind, a.Severity, a.Title = KindExplained, alert.SeverityInfo, titles[KindExplained]
	} else {
		a.Kind, a.Severity, a.Title = KindUnexplained, alert.SeverityWarning, titles[KindUnexplained]
	}
	a.Key = a.Kind + keySuffix(a)
	if spoken {
		// Recorded for the audit trail, closed at once: nobody needs to act.
		if _, err := k.upsert(ctx, toStore(a, e.cfg.Clock.Now())); err != nil {
			return alert.Alert{}, err
		}
		sa, ok, err := k.byKey(ctx, a.Key)
		if err != nil || !ok {
			return alert.Alert{}, fmt.Errorf("explained interruption %s not stored: %w", a.Key, err)
		}
		return alert.Alert{}, k.close(ctx, sa, "reason-check")
	}
	return a, nil
}

// checkReason opens the resumed segment's footage and checks its opening
// window, as recorded by a recorder of model.
func (e *Engine) checkReason(ctx context.Context, model string, resumed store.Segment, p rules.Policy) (Verdict, error) {
	r, size, err := e.footage.Open(ctx, resumed.Receipt.ObjectID)
	if err != nil {
		return Verdict{}, fmt.Errorf("open footage of seq %d: %w", resumed.Seq, err)
	}
	if c, ok := r.(interface{ Close() error }); ok {
		defer c.Close()
	}
	return e.check.Check(ctx, r, size, model, p.OpeningWindow, p.MinSpeech)
}

// checkFailed records the attempt-th failed reason check on the unchecked
// alert with when to try again (exponential backoff from Every, capped);
// from the CheckAttempts-th on, the failing check is an alert of its own.
func (e *Engine) checkFailed(ctx context.Context, k *knownAlerts, a alert.Alert, attempt int, cause error) (alert.Alert, error) {
	e.log.Warn("reason check failed", "serial", a.Serial, "seq", a.Seq, "attempt", attempt, "err", cause)
	bo := &backoff.ExponentialBackOff{InitialInterval: e.cfg.Every, Multiplier: 2, MaxInterval: e.cfg.CheckBackoffMax}
	bo.Reset()
	wait := e.cfg.Every
	for range attempt {
		wait = bo.NextBackOff()
	}
	now := e.cfg.Clock.Now()
	a.Kind, a.Severity, a.Title = KindUnchecked, alert.SeverityWarning, titles[KindUnchecked]
	a.Key = KindUnchecked + keySuffix(a)
	a.Detail += fmt.Sprintf("; reason check failed %d times: %v", attempt, cause)
	a.Evidence.CheckAttempts, a.Evidence.NextCheck = attempt, now.Add(wait)
	if attempt >= e.cfg.CheckAttempts {
		f := a
		f.Kind, f.Key, f.Title = KindReasonCheckFailed, KindReasonCheckFailed+keySuffix(a), titles[KindReasonCheckFailed]
		f.Evidence.NextCheck = time.Time{}
		f.Evidence.CheckAttempts = e.cfg.CheckAttempts // stable: one alert, not rewritten at each attempt
		f.Detail = fmt.Sprintf("the spoken-reason check of seq %d failed %d times (last: %v); a person must listen to it", a.Seq, e.cfg.CheckAttempts, cause)
		if _, err := e.raise(ctx, k, f); err != nil {
			return alert.Alert{}, err
		}
	}
	return a, nil
}

// supersede closes the alert with key, if there is one still open or
// acknowledged.
func (e *Engine) supersede(ctx context.Context, k *knownAlerts, key string) error {
	sa, ok, err := k.byKey(ctx, key)
	if err != nil || !ok || sa.State == store.AlertClosed {
		return err
	}
	return k.close(ctx, sa, "reason-check")
}

func keySuffix(a alert.Alert) string { return fmt.Sprintf("/%s/%d", a.Serial, a.Seq) }

func toStore(a alert.Alert, now time.Time) store.Alert {
	ev, _ := json.Marshal(a.Evidence) // plain struct of strings, numbers and times: cannot fail
	return store.Alert{Key: a.Key, Kind: a.Kind, Severity: a.Severity, Unit: orUnassigned(a.Unit), Officer: a.Officer,
		Serial: a.Serial, Seq: a.Seq, Dock: a.Dock, Title: a.Title, Detail: a.Detail, At: a.At, OpenedAt: now, Evidence: ev}
}

func orUnassigned(u string) string {
	if u == "" {
		return "unassigned"
	}
	return u
}

// evidenceEvents is what an alert shows of the recorder's log near it.
func evidenceEvents(evs []timeline.Event) []alert.RecorderEvent {
	if len(evs) == 0 {
		return nil
	}
	out := make([]alert.RecorderEvent, len(evs))
	for i, e := range evs {
		out[i] = alert.RecorderEvent{Index: e.Index, At: e.Time, Kind: e.Kind, Seq: e.Seq, Detail: e.Detail, Disputed: e.Disputed}
	}
	return out
}
