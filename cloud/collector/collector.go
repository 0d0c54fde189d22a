// Package collector wires the cloud collector: the store (SQLite or
// PostgreSQL), the evidence store and its resumable upload endpoint with
// signed receipts, MQTT ingest through a shared subscription (against an
// external broker or the embedded one), the analysis engine (timelines,
// spoken-reason checks, health findings) and the alert deliveries, plus
// /healthz and /metrics. cmd/collector and the demo build it from a Config;
// it keeps no state outside the store and the evidence store, so several
// collectors can run side by side.
package collector

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berthdock/berth/cloud/alert"
	"github.com/berthdock/berth/cloud/analysis"
	"github.com/berthdock/berth/cloud/broker"
	"github.com/berthdock/berth/cloud/console"
	"github.com/berthdock/berth/cloud/custody"
	"github.com/berthdock/berth/cloud/evidence"
	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/ingest"
	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/reasoncheck"
	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/upload/server"
	"github.com/berthdock/berth/cloud/wire"
	"github.com/berthdock/berth/cloud/wire/upload"
)

// Options are what a program hands the collector besides its Config.
type Options struct {
	Log *slog.Logger
	// Registry receives every metric; nil makes a fresh one (Registry()).
	Registry *prometheus.Registry
	// Clock is the analysis clock (nil: the real clock); the store, upload
	// and ingest keep the real clock.
	Clock clockwork.Clock
}

// Collector is a configured collector; Run starts it.
type Collector struct {
	cfg     Config
	log     *slog.Logger
	httpTLS *tls.Config // the upload endpoint's (nil: plain HTTP)
	reg     *prometheus.Registry

	st      *store.Store
	ev      evidence.Store
	key     ed25519.PrivateKey
	brk     *broker.Broker // nil with an external broker
	in      *ingest.Ingest
	up      *server.Server
	people  *people.Directory
	console *console.Console
	engine  *analysis.Engine
	httpLn  net.Listener
	brokerU string
	user    string
	pass    string

	closeOnce sync.Once
}

// New opens the store, the evidence store and the signing key, enrols the
// configured docks, and binds the HTTP and (embedded) MQTT listeners, so
// HTTPAddr and BrokerURL are known before Run.
func New(ctx context.Context, cfg Config, o Options) (_ *Collector, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, log: o.Log, reg: o.Registry}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.reg == nil {
		c.reg = prometheus.NewRegistry()
		c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	policy, err := store.ParseRecorderPolicy(cfg.Enrolment.Recorders)
	if err != nil {
		return nil, fmt.Errorf("collector: enrolment.recorders: %w", err)
	}
	if cfg.Enrolment.ProofMaxAge < 0 {
		return nil, fmt.Errorf("collector: enrolment.proof_max_age %s: %w: must not be negative (0: no limit)",
			cfg.Enrolment.ProofMaxAge, store.ErrArgument)
	}
	base, units, err := cfg.policies()
	if err != nil {
		return nil, err
	}
	prompts, err := reasoncheck.LoadPromptFiles(ctx, cfg.Analysis.ReasonPrompts)
	if err != nil {
		return nil, fmt.Errorf("collector: analysis.reason_prompts: %w", err)
	}
	reason, err := newReasonChecker(prompts, cfg.Analysis.ReasonMicGainDB, cfg.Analysis.ReasonMicGainDBByModel,
		"analysis.reason_mic_gain_db", "analysis.reason_mic_gain_db_by_model")
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if c.st, err = store.Open(ctx, cfg.Store, &store.Opts{Logger: c.log.With("part", "store"), Schema: cfg.Schema,
		Recorders: policy, ReportSkew: cfg.Enrolment.ReportSkew, BeforeEnrolment: cfg.Enrolment.BeforeEnrolment,
		ProofMaxAge: cfg.Enrolment.ProofMaxAge}); err != nil {
		return nil, err
	}
	for _, kind := range []string{store.KindRecorderRefused, store.KindReportTime, store.KindEventLogConflict} {
		st := c.st
		if err := c.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_store_reports_refused_total",
			Help:        "Reports refused, or event-log reads set aside, changing nothing the analysis uses and raising an alert, by alert kind.",
			ConstLabels: prometheus.Labels{"kind": kind}}, func() float64 { return float64(st.Refused(kind)) })); err != nil {
			return nil, fmt.Errorf("collector: metrics: %w", err)
		}
	}
	if c.ev, err = OpenEvidence(ctx, &cfg, c.log.With("part", "evidence")); err != nil {
		return nil, err
	}
	if c.key, err = LoadOrCreateKey(cfg.SigningKeyFile); err != nil {
		return nil, err
	}
	for _, d := range cfg.Docks {
		tok := d.Token
		if tok == "" && d.TokenFile != "" {
			if tok, err = ReadSecretFile(d.TokenFile); err != nil {
				return nil, fmt.Errorf("collector: dock %s token: %w", d.ID, err)
			}
		}
		if err := c.st.EnrollDock(ctx, d.ID, d.Unit, tok); err != nil {
			return nil, fmt.Errorf("collector: enrol dock %s: %w", d.ID, err)
		}
	}
	if err := c.enrolConfigured(ctx); err != nil {
		return nil, err
	}
	if policy == store.RecordersProtected {
		c.log.Info("enrolment: enrolled recorders are bound to their unit's docks; recorders not enrolled are accepted from any enrolled dock (enrolment.recorders: enrolled-only refuses them)")
	}
	announce := func(ctx context.Context, a store.Alert) { c.engine.Announce(ctx, a) } // c.engine is set below, before Run serves
	if c.up, err = server.New(server.Opts{Store: c.st, Evidence: c.ev, Key: c.key, Logger: c.log.With("part", "upload"), Registry: c.reg,
		Announce: announce, RequireCertificate: cfg.ClientCA != ""}); err != nil {
		return nil, err
	}

	var revoked *pki.Revocations
	if cfg.CRLFile != "" {
		if revoked, err = pki.LoadRevocations(cfg.ClientCA, cfg.CRLFile); err != nil {
			return nil, fmt.Errorf("collector: crl_file: %w", err)
		}
	}
	c.user, c.pass, c.brokerU = cfg.MQTT.Username, cfg.MQTT.Password, cfg.MQTT.Broker
	if c.brokerU == "" {
		// Embedded broker: the collector's own credentials are made per run.
		c.user, c.pass = "collector", randomToken()
		bo := broker.Opts{Addr: cfg.MQTT.Embedded, CollectorUser: c.user, CollectorPassword: c.pass,
			Docks: c.st, Logger: c.log.With("part", "broker"), CollectorClientID: cfg.MQTT.ClientID, Registry: c.reg}
		if cfg.MQTT.EmbeddedTLS != "" {
			bo.MTLSAddr = cfg.MQTT.EmbeddedTLS
			if bo.MTLS, err = pki.ServerTLS(cfg.ClientCA, cfg.TLSCert, cfg.TLSKey); err != nil {
				return nil, fmt.Errorf("collector: mqtt.embedded_tls: %w", err)
			}
			if revoked != nil {
				revoked.Enforce(bo.MTLS)
			}
		}
		c.brk, err = broker.New(bo)
		if err != nil {
			return nil, err
		}
		c.brokerU = c.brk.URL()
	}
	var mqttTLS *tls.Config
	if c.brk == nil && (cfg.MQTT.CAFile != "" || cfg.MQTT.CertFile != "") {
		if mqttTLS, err = pki.ClientTLS(cfg.MQTT.CAFile, cfg.MQTT.CertFile, cfg.MQTT.KeyFile); err != nil {
			return nil, fmt.Errorf("collector: mqtt TLS: %w", err)
		}
	}
	filters := cfg.MQTT.Filters
	if len(filters) == 0 {
		// Only the report topics: the broker's ACLs keep docks off any
		// other, and the collector need not hear its own acks and commands.
		filters = ingest.ReportFilters()
	}
	if c.in, err = ingest.New(ingest.Config{Broker: c.brokerU, ClientID: cfg.MQTT.ClientID, Username: c.user, Password: c.pass, TLS: mqttTLS,
		Group: cfg.MQTT.Group, Filters: filters}, c.st, c.log.With("part", "ingest"), c.reg); err != nil {
		return nil, err
	}

	if c.httpLn, err = net.Listen("tcp", cfg.HTTP); err != nil {
		return nil, fmt.Errorf("collector: http listen: %w", err)
	}
	if cfg.TLSCert != "" {
		if c.httpTLS, err = pki.ServerTLS(cfg.ClientCA, cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, fmt.Errorf("collector: https: %w", err)
		}
		// Viewers' browsers and /healthz carry no machine certificate:
		// the handshake verifies one when given and the upload endpoint
		// (server.Opts.RequireCertificate) refuses uploads without one.
		if c.httpTLS.ClientAuth == tls.RequireAndVerifyClientCert {
			c.httpTLS.ClientAuth = tls.VerifyClientCertIfGiven
		}
		if revoked != nil {
			revoked.Enforce(c.httpTLS)
		}
	}
	// Alert deliveries link to the alert's console page, signed with a
	// key derived from the receipt key (every instance shares it).
	public := strings.TrimRight(cfg.Console.PublicURL, "/")
	if public == "" {
		public = strings.TrimRight(cfg.PublicURL, "/")
	}
	if public == "" {
		public = c.UploadURL()
	}
	links := &alert.Links{Base: public, Key: alert.DeriveLinkKey(c.key.Seed()), TTL: cfg.Console.LinkTTL}

	var deliver []analysis.Deliverer
	// Alerts go out on ingest's connection: one MQTT client (and one
	// client id) per collector, as a broker binding client ids to
	// certificates requires (deploy/cloud/mosquitto.conf).
	deliver = append(deliver, &alert.MQTT{Pub: c.in})
	for _, w := range cfg.Webhooks {
		f := w.Format
		if f == "" {
			f = alert.FormatJSON
		}
		secret := w.Secret
		if secret == "" && w.SecretFile != "" {
			if secret, err = ReadSecretFile(w.SecretFile); err != nil {
				return nil, fmt.Errorf("collector: webhook %s secret: %w", w.URL, err)
			}
		}
		deliver = append(deliver, &alert.Webhook{URL: w.URL, Format: f, Secret: secret, Client: &http.Client{Timeout: 10 * time.Second}})
	}
	th := health.DefaultThresholds()
	th.MinFirmware = cfg.Analysis.MinFirmware
	if c.people, err = people.New(c.st, people.Opts{}); err != nil {
		return nil, err
	}
	zone := cfg.Console.TimeZone
	if zone == "" {
		zone = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("collector: console.time_zone: %w", err)
	}
	var sso *people.OIDC
	if oc := cfg.Console.OIDC; oc.Issuer != "" {
		secret := ""
		if oc.ClientSecretFile != "" {
			if secret, err = ReadSecretFile(oc.ClientSecretFile); err != nil {
				return nil, fmt.Errorf("collector: console.oidc client secret: %w", err)
			}
		}
		if sso, err = people.NewOIDC(people.OIDCConfig{Issuer: oc.Issuer, ClientID: oc.ClientID, ClientSecret: secret,
			RedirectURL: oc.RedirectURL, PostLogoutURL: oc.PostLogoutURL, Claim: oc.Claim, Domain: oc.Domain, Client: &http.Client{Timeout: 10 * time.Second}}, c.people); err != nil {
			return nil, fmt.Errorf("collector: console.oidc: %w", err)
		}
	}
	if c.console, err = console.New(console.Opts{Store: c.st, People: c.people, Footage: c.ev, Commands: c, Log: c.log.With("part", "console"),
		Location: loc, Health: th, SecureCookies: cfg.Console.SecureCookies, Links: links, OIDC: sso,
		Custody: &console.Custody{Evidence: c.ev, Key: c.key, ExportDir: filepath.Join(cfg.DataDir, "exports"),
			Retention: custody.Retention{Default: cfg.Retention.Default, Units: cfg.Retention.Units, CaseTypes: cfg.Retention.CaseTypes}}}); err != nil {
		return nil, err
	}
	cons := c.console
	if err := c.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_console_alert_links_refused_total",
		Help: "Alert links refused by the console: forged, malformed, expired or naming no alert."},
		func() float64 { return float64(cons.LinksRefused()) })); err != nil {
		return nil, fmt.Errorf("collector: metrics: %w", err)
	}
	if err := c.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_console_oidc_refused_total",
		Help: "OIDC sign-ins refused by the console: state, nonce, signature, audience, expiry, unknown or disabled person, provider errors."},
		func() float64 { return float64(cons.OIDCRefused()) })); err != nil {
		return nil, fmt.Errorf("collector: metrics: %w", err)
	}
	c.engine = analysis.New(analysis.Config{Every: cfg.Analysis.Every, Escalate: cfg.Analysis.Escalate, Clock: o.Clock, Health: th,
		Policy: base.Policy, OffloadWarn: base.OffloadWarn, Units: units,
		Link: links.For},
		c.st, footage{c.ev}, reason, deliver, c.log.With("part", "analysis"))
	if len(prompts) > 0 {
		c.log.Info("reason check: recorder prompts enrolled", "prompts", fmt.Sprint(prompts))
	}
	return c, nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// footage opens evidence objects for the analysis engine.
type footage struct{ ev evidence.Store }

func (f footage) Open(ctx context.Context, id string) (io.ReaderAt, int64, error) {
	r, err := f.ev.Open(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	obj, err := f.ev.Stat(ctx, id)
	if err != nil {
		r.Close()
		return nil, 0, err
	}
	return r, obj.Size, nil
}

// People is the directory of who may sign in (collector user add, the demo).
func (c *Collector) People() *people.Directory { return c.people }

// Store is the collector's store (for the demo, tests and commands).
func (c *Collector) Store() *store.Store { return c.st }

// Evidence is the evidence store.
func (c *Collector) Evidence() evidence.Store { return c.ev }

// Engine is the analysis engine (its Pass runs one analysis now).
func (c *Collector) Engine() *analysis.Engine { return c.engine }

// PublicKey verifies the collector's receipts; docks are configured with it.
func (c *Collector) PublicKey() ed25519.PublicKey { return c.key.Public().(ed25519.PublicKey) }

// HTTPAddr is the bound address of the upload endpoint.
func (c *Collector) HTTPAddr() string { return c.httpLn.Addr().String() }

// UploadURL is the base URL docks upload to.
func (c *Collector) UploadURL() string {
	scheme := "http"
	if c.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + c.HTTPAddr()
}

// BrokerURL is the MQTT broker the collector uses (the embedded one's
// bound address when embedded).
func (c *Collector) BrokerURL() string { return c.brokerU }

// BrokerMTLSURL is the embedded broker's mutual-TLS listener (ssl://...);
// empty without one.
func (c *Collector) BrokerMTLSURL() string {
	if c.brk == nil {
		return ""
	}
	return c.brk.MTLSURL()
}

// Ingest is the MQTT ingest (commands to docks go through it).
func (c *Collector) Ingest() *ingest.Ingest { return c.in }

// Registry holds the collector's metrics.
func (c *Collector) Registry() *prometheus.Registry { return c.reg }

// Handler is the collector's HTTP surface: the upload endpoint, the
// /healthz, /metrics, and the console with its API at "/" (footage is
// served only there, to people signed in).
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(upload.PathPrefix, c.up)
	mux.Handle(upload.PathPrefix+"/", c.up)
	mux.Handle("/", c.console.Handler())
	mux.Handle("/metrics", promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := c.Healthy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Healthy is /healthz: the store answers a ping within 2 s and ingest is
// connected to the broker. A *HealthError says which part failed.
func (c *Collector) Healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var problems []string
	if err := c.st.Ping(ctx); err != nil {
		problems = append(problems, "store: "+err.Error())
	}
	if !c.in.Connected() {
		problems = append(problems, "mqtt: ingest not connected")
	}
	if len(problems) > 0 {
		return &HealthError{Store: !strings.HasPrefix(problems[0], "mqtt"), Problems: problems}
	}
	return nil
}

// HealthError is what Healthy found wrong.
type HealthError struct {
	Store    bool // the store did not answer (a restart may help; a broker away does not need one)
	Problems []string
}

func (e *HealthError) Error() string { return strings.Join(e.Problems, "\n") }

// Run serves until ctx ends, then shuts down in order: stop taking uploads
// (in-flight requests finish), stop ingest (in-flight commits finish and are
// acknowledged), stop analysis, then the embedded broker; the store is
// closed by Close.
func (c *Collector) Run(ctx context.Context) error {
	var errs []error
	var mu sync.Mutex
	fail := func(part string, err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			mu.Lock()
			errs = append(errs, fmt.Errorf("%s: %w", part, err))
			mu.Unlock()
		}
	}
	runCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()

	brokerCtx, stopBroker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBroker()
	var brokerWG sync.WaitGroup
	if c.brk != nil {
		brokerWG.Add(1)
		go func() { defer brokerWG.Done(); fail("broker", c.brk.Run(brokerCtx)) }()
	}

	srv := newHTTPServer(c.Handler())
	httpDone := make(chan error, 1)
	go func() {
		var err error
		if c.cfg.TLSCert != "" {
			srv.TLSConfig = c.httpTLS
			err = srv.ServeTLS(c.httpLn, "", "")
		} else {
			err = srv.Serve(c.httpLn)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		httpDone <- err
	}()

	var wg sync.WaitGroup // each part of the collector runs until runCtx ends
	wg.Go(func() {
		c.sweepStaging(runCtx)
	})
	wg.Go(func() { // hole-release decisions follow their recorder to the dock it docks at
		select { // commands are published through ingest's connection
		case <-c.in.Ready():
		case <-runCtx.Done():
		}
		c.deliverHoleReleases(runCtx, holeCourierEvery)
	})
	wg.Go(func() { // custody: re-extend the object lock of held and case-linked objects
		RetentionKeeper(&c.cfg, c.st, c.ev, c.log.With("part", "custody")).Run(runCtx, keepEvery)
	})
	wg.Go(func() { // custody: abort abandoned multipart uploads no staging area names (S3)
		OrphanJob(&c.cfg, c.st, c.ev, c.log.With("part", "custody")).Run(runCtx, keepEvery)
	})
	wg.Go(func() {
		if err := c.in.Run(runCtx); err != nil {
			fail("ingest", err)
			stopAll()
		}
	})
	wg.Go(func() {
		select { // alerts are published through ingest's connection
		case <-c.in.Ready():
		case <-runCtx.Done():
		}
		fail("analysis", c.engine.Run(runCtx))
	})
	c.log.Info("collector running", "http", c.HTTPAddr(), "mqtt", c.brokerU, "store", redact(c.cfg.Store), "evidence", c.cfg.evidenceName())

	select {
	case <-runCtx.Done():
	case err := <-httpDone:
		fail("http", err)
		httpDone <- nil
		stopAll()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	fail("http shutdown", srv.Shutdown(sctx))
	fail("http", <-httpDone)
	stopAll()
	wg.Wait()
	stopBroker()
	brokerWG.Wait()
	return errors.Join(errs...)
}

// redact hides a DSN's password in logs.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":***" + dsn[at:]
			}
		}
	}
	return dsn
}

// Close releases the store and listeners; call it after Run returned.
func (c *Collector) Close() error {
	var errs []error
	c.closeOnce.Do(func() {
		if c.httpLn != nil {
			c.httpLn.Close()
		}
		if c.brk != nil {
			errs = append(errs, c.brk.Close())
		}
		if c.st != nil {
			errs = append(errs, c.st.Close())
		}
	})
	return errors.Join(errs...)
}

// holeCourierEvery is how often undelivered hole-release decisions are sent.
const holeCourierEvery = 30 * time.Second

// deliverHoleReleases sends hole-release decisions to the docks their
// recorders last docked at, every interval until ctx ends.
func (c *Collector) deliverHoleReleases(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := console.DeliverHoleReleases(ctx, c.st, c, c.log.With("part", "holes")); err != nil && ctx.Err() == nil {
			c.log.Warn("hole-release decisions not all sent; next round retries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendCommand publishes a command to a dock (power-cycle, refresh).
func (c *Collector) SendCommand(ctx context.Context, dock string, cmd wire.Command) (string, error) {
	return c.in.PublishCommand(ctx, dock, cmd)
}

// HTTP bounds of the collector's server: a client that sends its headers
// slowly, its body slowly or holds an idle connection is cut off. Upload
// chunks get their own read deadline (server.Opts.ChunkTimeout, 2m), set
// by the upload handler; there is no write timeout, so a supervisor's
// footage download is not cut short.
const (
	HTTPReadHeaderTimeout = 10 * time.Second
	HTTPReadTimeout       = time.Minute
	HTTPIdleTimeout       = 2 * time.Minute
	HTTPMaxHeaderBytes    = 64 << 10
)

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: HTTPReadHeaderTimeout, ReadTimeout: HTTPReadTimeout,
		IdleTimeout: HTTPIdleTimeout, MaxHeaderBytes: HTTPMaxHeaderBytes}
}

// sweepEvery is how often abandoned uploads are looked for.
const sweepEvery = 10 * time.Minute

// sweepStaging discards abandoned uploads (server.Opts.StagingTTL) now and
// every sweepEvery until ctx ends.
func (c *Collector) sweepStaging(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		if n, err := c.up.Sweep(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("upload: staging sweep failed", "err", err)
		} else if n > 0 {
			c.log.Info("upload: abandoned uploads discarded", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
