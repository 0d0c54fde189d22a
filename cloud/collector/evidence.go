package collector

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/store"
)

// OpenEvidence opens the configured evidence store: the S3 bucket when
// s3.endpoint is set, else the directory (the embedded default).
func OpenEvidence(ctx context.Context, cfg *Config, log *slog.Logger) (evidence.Store, error) {
	s := cfg.S3
	if s.Endpoint == "" {
		return evidence.OpenFS(cfg.Evidence, log)
	}
	secret := ""
	if s.SecretKeyFile != "" {
		var err error
		if secret, err = ReadSecretFile(s.SecretKeyFile); err != nil {
			return nil, fmt.Errorf("collector: s3.secret_key_file: %w", err)
		}
	}
	return evidence.OpenS3(ctx, evidence.S3Opts{Endpoint: s.Endpoint, Secure: s.Secure, Region: s.Region, Bucket: s.Bucket,
		AccessKey: s.AccessKey, SecretKey: secret, Mode: evidence.LockMode(s.Mode), Retention: s.Retention,
		CreateBucket: s.CreateBucket, Logger: log})
}

// evidenceName describes the evidence store for the start-up log.
func (c *Config) evidenceName() string {
	if c.S3.Endpoint != "" {
		return "s3://" + c.S3.Endpoint + "/" + c.S3.Bucket
	}
	return c.Evidence
}

// RetentionKeeper is the custody job that re-extends the object lock of
// held and case-linked objects (custody.Keeper) under cfg's retention
// policy; serve runs it every keepEvery, `collector evidence retention
// apply` once.
func RetentionKeeper(cfg *Config, st *store.Store, ev evidence.Store, log *slog.Logger) custody.Keeper {
	return custody.Keeper{Store: st, Evidence: ev, Log: log, Policy: custody.Retention{Default: cfg.Retention.Default,
		Units: cfg.Retention.Units, CaseTypes: cfg.Retention.CaseTypes}}
}

// OrphanJob is the custody job that aborts the evidence bucket's
// multipart uploads no staging area names once they have made no progress
// for the S3 configuration's orphan_age (custody.Orphans); serve runs it
// every keepEvery.
func OrphanJob(cfg *Config, st *store.Store, ev evidence.Store, log *slog.Logger) custody.Orphans {
	return custody.Orphans{Store: st, Evidence: ev, Age: cfg.S3.OrphanAge, Log: log}
}

// keepEvery is how often serve re-applies retention to the object lock:
// far more often than the weeks a lock has left when it is renewed
// (custody.DefaultRenew), so a collector down for days loses nothing.
const keepEvery = 6 * time.Hour
