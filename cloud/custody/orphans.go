package custody

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
)

// Uploader is an evidence store whose uploads in progress live in the
// storage itself (*evidence.S3: multipart uploads), where one abandoned
// outside any staging area would hold its parts for ever.
type Uploader interface {
	MultipartUploads(ctx context.Context) ([]evidence.MultipartUpload, error)
	AbortUpload(ctx context.Context, u evidence.MultipartUpload) error
}

// Orphans aborts the abandoned multipart uploads of the evidence bucket
// that no staging area names: a Begin that stopped between starting the
// upload and writing its meta object, a racing Begin's loser whose abort
// failed, a discard that stopped half-way. Their parts are never
// evidence (the dock keeps the footage until a receipt, and uploads again
// from the start), but S3 keeps and bills them until someone aborts them.
// An upload a staging area names is the upload endpoint's: its sweep
// discards the area after its TTL, and the upload with it.
//
// An orphan is aborted only once it has made no progress (started, or a
// part written, by the S3 server's clock) for Age, and never if a receipt
// names its object: the objects receipts name are what custody keeps, and
// an upload of one is left to an operator rather than touched by a job
// (aborting an upload does not touch a completed version on a conforming
// server; this does not rely on that). Such a one is counted as kept and
// logged at every run.
//
// On the directory backend there are no such uploads (a staging area is
// the upload), and Apply does nothing.
type Orphans struct {
	Store    *store.Store
	Evidence evidence.Store
	Age      time.Duration   // default DefaultOrphanAge
	Clock    clockwork.Clock // nil: the real clock
	Log      *slog.Logger    // nil: slog.Default()
}

// DefaultOrphanAge is Orphans.Age's default: a week, as the upload
// endpoint's staging TTL.
const DefaultOrphanAge = 7 * 24 * time.Hour

// OrphanReport says what a run did.
type OrphanReport struct {
	Uploads   int // multipart uploads in progress
	Orphans   int // of them, named by no staging area
	Aborted   int // abandoned orphans aborted
	Receipted int // abandoned orphans kept because a receipt names their object
	Failed    int // aborts that failed (logged)
}

// Apply runs the job once. An abort that fails is logged and counted and
// the run goes on; the error then says how many failed.
func (o Orphans) Apply(ctx context.Context) (OrphanReport, error) {
	up, ok := o.Evidence.(Uploader)
	if !ok {
		return OrphanReport{}, nil
	}
	log, clock := logOr(o.Log), clockOr(o.Clock)
	age := o.Age
	if age <= 0 {
		age = DefaultOrphanAge
	}
	var rep OrphanReport
	us, err := up.MultipartUploads(ctx)
	if err != nil {
		return rep, fmt.Errorf("custody: orphaned uploads: %w", err)
	}
	cutoff := clock.Now().Add(-age)
	for _, u := range us {
		rep.Uploads++
		if u.Staging != "" {
			continue
		}
		rep.Orphans++
		if !u.Progress.Before(cutoff) {
			continue
		}
		held, err := o.Store.Receipted(ctx, u.Object)
		if err != nil {
			return rep, fmt.Errorf("custody: orphaned uploads: %w", err)
		}
		if held {
			rep.Receipted++
			log.Warn("custody: abandoned upload of a receipted object kept; abort it by hand if it is not wanted",
				"object", u.Object, "upload", u.UploadID, "progress", u.Progress)
			continue
		}
		if err := up.AbortUpload(ctx, u); err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Failed++
			log.Error("custody: aborting an abandoned upload", "object", u.Object, "upload", u.UploadID, "err", err)
			continue
		}
		rep.Aborted++
		log.Info("custody: abandoned upload aborted", "object", u.Object, "upload", u.UploadID, "progress", u.Progress)
	}
	if rep.Failed > 0 {
		return rep, fmt.Errorf("custody: orphaned uploads: %d of %d aborts failed", rep.Failed, rep.Failed+rep.Aborted)
	}
	return rep, nil
}

// Run applies the job now and every interval until ctx ends, logging what
// each run did.
func (o Orphans) Run(ctx context.Context, every time.Duration) {
	log := logOr(o.Log)
	runEvery(ctx, every, func() {
		rep, err := o.Apply(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("custody: orphaned uploads run", "err", err, "aborted", rep.Aborted)
		case rep.Aborted > 0 || rep.Receipted > 0:
			log.Info("custody: orphaned uploads run", "uploads", rep.Uploads, "orphans", rep.Orphans, "aborted", rep.Aborted,
				"receipted_kept", rep.Receipted)
		}
	})
}
