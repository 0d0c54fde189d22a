package collector

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berthdock/berth/cloud/store"
)

// Config is the collector's configuration file (deploy/cloud/collector.yaml);
// flags override single fields. Zero values take the embedded defaults: a
// SQLite file and an evidence directory under DataDir, an embedded broker.
type Config struct {
	// DataDir holds the embedded defaults (store, evidence, signing key).
	DataDir string `yaml:"data_dir"`
	// Store is the store's DSN: a SQLite path or a postgres:// URL.
	// Default: DataDir/collector.db.
	Store string `yaml:"store"`
	// Schema is the PostgreSQL schema (search_path) the store uses;
	// empty: the server's default.
	Schema string `yaml:"schema"`
	// Evidence is the evidence store's directory. Default DataDir/evidence.
	// Unused when S3.Endpoint is set.
	Evidence string `yaml:"evidence"`
	// S3, when its Endpoint is set, is the evidence store instead of the
	// directory: an S3-compatible bucket with versioning and object lock
	// (production; every collector instance shares it). See
	// evidence.S3Opts.
	S3 S3Config `yaml:"s3"`
	// Retention is the retention policy (custody.Retention): default, per
	// unit and per case type; none is shorter than a year.
	Retention struct {
		Default   time.Duration            `yaml:"default"`
		Units     map[string]time.Duration `yaml:"units"`
		CaseTypes map[string]time.Duration `yaml:"case_types"`
	} `yaml:"retention"`
	// SigningKeyFile holds the base64 Ed25519 private key (seed) that signs
	// receipts. Default DataDir/receipt.key, created 0600 when missing.
	SigningKeyFile string `yaml:"signing_key_file"`

	// HTTP is the listen address of the upload endpoint, /healthz and
	// /metrics. TLS when TLSCert and TLSKey are set.
	HTTP    string `yaml:"http"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ClientCA is the machine CA (collector enroll ca init). When set, the
	// HTTPS upload endpoint requires a client certificate it signed and
	// takes the dock from it (pki.IdentityOf), and an embedded broker's
	// MQTT.EmbeddedTLS listener does the same. Needs TLSCert and TLSKey.
	ClientCA string `yaml:"client_ca"`
	// CRLFile is the machine CA's revocation list (collector enroll
	// revoke writes it as ca.crl in the CA directory). When set, the
	// upload endpoint and the embedded broker's mutual-TLS listener refuse
	// a revoked certificate at the handshake; the file is read again when
	// it changes. Needs ClientCA.
	CRLFile string `yaml:"crl_file"`

	MQTT struct {
		// Broker is the MQTT broker URL (tcp://host:1883, ssl://host:8883).
		// Empty: start the embedded broker on Embedded.
		Broker   string `yaml:"broker"`
		Embedded string `yaml:"embedded"` // embedded broker's listen address; default 127.0.0.1:1883
		// EmbeddedTLS is the embedded broker's mutual-TLS listen address
		// (docks with client certificates; needs ClientCA, TLSCert and
		// TLSKey). Empty: none.
		EmbeddedTLS string `yaml:"embedded_tls"`
		// CAFile, CertFile and KeyFile are the collector's own TLS
		// settings on an external ssl:// broker: the CA its server
		// certificate is checked against (empty: system roots) and the
		// collector's client certificate (collector enroll collector),
		// for a broker that requires one (deploy/cloud/mosquitto.conf).
		CAFile   string `yaml:"ca_file"`
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
		ClientID string `yaml:"client_id"`
		Group    string `yaml:"group"` // shared-subscription group; default "collectors"
		Username string `yaml:"username"`
		Password string `yaml:"password"`
		// Filters narrow the subscription to some docks (sharding, tests);
		// default: the report topics of every dock (ingest.ReportFilters).
		Filters []string `yaml:"filters"`
	} `yaml:"mqtt"`

	Analysis struct {
		Every    time.Duration `yaml:"every"`    // default 1m
		Escalate time.Duration `yaml:"escalate"` // default 1h
		// MinFirmware is the fleet's minimum recorder firmware (dotted);
		// empty: not checked.
		MinFirmware string `yaml:"min_firmware"`
		// Policy is the recording policy (the rules' defaults where
		// unset); Units override it per unit.
		Policy PolicyConfig            `yaml:"policy"`
		Units  map[string]PolicyConfig `yaml:"units"`
		// ReasonPrompts are audio files (WAV or MP4, at most 6 s) of the
		// recorder models' own voice prompts, each the prompt alone: the
		// spoken-reason check judges what matches one as the prompt, not
		// the wearer (named by the file's base name in the verdict).
		ReasonPrompts []string `yaml:"reason_prompts"`
		// ReasonMicGainDB is the fleet's microphone calibration for the
		// spoken-reason check (`collector reason-check --calibrate` on
		// clips of officers stating a reason with its recorders): how
		// many dB louder they record a voice than the reference. The
		// check tells the wearer from a bystander by level, so a fleet
		// that records quieter than the reference has every wearer
		// judged a bystander until it is set. 0: the reference.
		ReasonMicGainDB float64 `yaml:"reason_mic_gain_db"`
		// ReasonMicGainDBByModel calibrates recorder models whose
		// microphones differ from the fleet's (a mixed fleet), by the
		// model name the recorders report; a model not listed gets
		// ReasonMicGainDB. Measured as ReasonMicGainDB is, with clips of
		// that model only.
		ReasonMicGainDBByModel map[string]float64 `yaml:"reason_mic_gain_db_by_model"`
	} `yaml:"analysis"`

	// PublicURL is how people reach this collector, e.g.
	// https://collector.example:8443: the alert links' base when
	// Console.PublicURL is unset. Default: the bound HTTP address.
	PublicURL string `yaml:"public_url"`

	// Console is the web console and JSON API served at "/" (cloud/console).
	Console struct {
		// TimeZone is the agency's zone for every time shown (default
		// Asia/Shanghai).
		TimeZone string `yaml:"time_zone"`
		// SecureCookies marks session cookies Secure on plain HTTP too
		// (behind a TLS-terminating proxy); always so over HTTPS.
		SecureCookies bool `yaml:"secure_cookies"`
		// PublicURL is the console's address as people's phones reach
		// it (https://console.example): alert deliveries carry a signed
		// link to the alert's page there. Default: PublicURL.
		PublicURL string `yaml:"public_url"`
		// LinkTTL is how long such a link is good for (default 24h;
		// an escalation sends a fresh one). Opening the page still
		// needs a sign-in.
		LinkTTL time.Duration `yaml:"link_ttl"`
		// OIDC, when its issuer is set, offers sign-in with the
		// agency's OpenID Connect provider beside the password
		// (cloud/people/oidc.go). The person must already be in the
		// registry, named by Claim; no role comes from the provider.
		OIDC struct {
			Issuer           string `yaml:"issuer"`
			ClientID         string `yaml:"client_id"`
			ClientSecretFile string `yaml:"client_secret_file"`
			// RedirectURL is the console's /signin/oidc/callback as
			// browsers reach it (registered with the provider).
			RedirectURL string `yaml:"redirect_url"`
			// PostLogoutURL is where the provider's logout sends the
			// browser back (registered with the provider; default
			// /signin on redirect_url's origin).
			PostLogoutURL string `yaml:"post_logout_url"`
			// Claim names the person: its value is the sign-in name
			// (default preferred_username).
			Claim string `yaml:"claim"`
			// Domain, if set, is required after an "@" in the claim
			// (an email) and stripped before the name is looked up.
			Domain string `yaml:"domain"`
		} `yaml:"oidc"`
	} `yaml:"console"`

	// Webhooks receive every new or escalated alert.
	Webhooks []Webhook `yaml:"webhooks"`

	// Docks are enrolled at start (id, unit, token); docks may also be
	// enrolled in the store by other means (collector enroll dock).
	Docks []DockEnrolment `yaml:"docks"`
	// Units and Recorders are enrolled at start (by "config"), like Docks;
	// collector enroll does the same on a running collector's store.
	Units     []UnitEnrolment     `yaml:"units"`
	Recorders []RecorderEnrolment `yaml:"recorders"`

	Enrolment struct {
		// Recorders is which recorders a dock may upload and report for:
		// "protected" (the default) refuses an enrolled recorder to every
		// dock outside its unit and accepts recorders not enrolled (a
		// registry without recorders, the demo, keeps working; each such
		// upload is counted); "enrolled-only" refuses those too;
		// "authenticated" lets a dock handle exactly the recorders it has
		// proved holding: an authenticated record in its audit chain whose
		// recorder signature (DockLink §6.5) verifies with the recorder's
		// enrolled key, whatever their unit; recorders not enrolled are
		// refused (recorders that move between units' docks;
		// store.RecordersAuthenticated).
		Recorders string `yaml:"recorders"`
		// ReportSkew is how far ahead of the collector's clock a report
		// may be dated (default 5m); later ones change nothing.
		ReportSkew time.Duration `yaml:"report_skew"`
		// BeforeEnrolment is how long before a recorder's enrolment a
		// health report on it may be dated (default 168h); earlier ones
		// change nothing and raise a report-time alert.
		BeforeEnrolment time.Duration `yaml:"before_enrolment"`
		// ProofMaxAge bounds, under "authenticated", how old a dock's
		// proof of holding a recorder may be (its signed time): a dock
		// that has not docked the recorder for longer may no longer
		// handle it. 0 (the default): no limit; negative is refused at
		// start (store.Opts.ProofMaxAge).
		ProofMaxAge time.Duration `yaml:"proof_max_age"`
	} `yaml:"enrolment"`
}

// S3Config is the S3 evidence backend's part of the configuration.
type S3Config struct {
	Endpoint  string `yaml:"endpoint"` // host:port
	Secure    bool   `yaml:"secure"`   // HTTPS
	Region    string `yaml:"region"`
	Bucket    string `yaml:"bucket"`
	AccessKey string `yaml:"access_key"`
	// SecretKeyFile holds the secret key (a file readable only by the
	// collector). The account must not hold s3:BypassGovernanceRetention
	// nor s3:DeleteObjectVersion on objects/.
	SecretKeyFile string `yaml:"secret_key_file"`
	// Mode is the object lock mode: COMPLIANCE (default) or GOVERNANCE.
	Mode string `yaml:"mode"`
	// Retention is each object's retain-until period from its commit;
	// default, and in COMPLIANCE mode the minimum, one year.
	Retention time.Duration `yaml:"retention"`
	// CreateBucket makes the bucket, with object lock, when missing.
	CreateBucket bool `yaml:"create_bucket"`
	// OrphanAge is how long a multipart upload that no staging area names
	// may make no progress before the custody job aborts it (default a
	// week, custody.DefaultOrphanAge); one of a receipted object never is.
	OrphanAge time.Duration `yaml:"orphan_age"`
}

// UnitEnrolment names a unit and its equipment custodian.
type UnitEnrolment struct {
	ID        string `yaml:"id"`
	Name      string `yaml:"name"`
	Custodian string `yaml:"custodian"`
}

// RecorderEnrolment binds a recorder and its Ed25519 public key (base64) to
// an enrolled unit.
type RecorderEnrolment struct {
	Serial    string `yaml:"serial"`
	Unit      string `yaml:"unit"`
	PublicKey string `yaml:"public_key"`
}

// Webhook is one alert delivery endpoint.
type Webhook struct {
	URL    string `yaml:"url"`
	Format string `yaml:"format"` // json, dingtalk or wecom
	// SecretFile holds a DingTalk robot's signing secret (加签, "SEC..."):
	// deliveries are then signed (timestamp and sign parameters).
	SecretFile string `yaml:"secret_file"`
	Secret     string `yaml:"-"` // set by programs and tests, never read from YAML
}

// DockEnrolment names a dock allowed to report and upload.
type DockEnrolment struct {
	ID        string `yaml:"id"`
	Unit      string `yaml:"unit"`
	TokenFile string `yaml:"token_file"`
	Token     string `yaml:"-"` // set by programs (the demo), never read from YAML
}

// LoadConfig reads a configuration file; unknown fields are errors.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("collector: config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("collector: config %s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) defaults() error {
	if c.DataDir == "" {
		c.DataDir = "berth-collector"
	}
	if c.Store == "" {
		c.Store = filepath.Join(c.DataDir, "collector.db")
	}
	if c.Evidence == "" {
		c.Evidence = filepath.Join(c.DataDir, "evidence")
	}
	if c.SigningKeyFile == "" {
		c.SigningKeyFile = filepath.Join(c.DataDir, "receipt.key")
	}
	if c.HTTP == "" {
		c.HTTP = "127.0.0.1:8780"
	}
	if c.MQTT.Embedded == "" {
		c.MQTT.Embedded = "127.0.0.1:1883"
	}
	if c.MQTT.Group == "" {
		c.MQTT.Group = "collectors"
	}
	if c.MQTT.ClientID == "" {
		h, _ := os.Hostname()
		c.MQTT.ClientID = "collector-" + sanitize(h)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("collector: tls_cert and tls_key go together")
	}
	if c.TLSKey != "" {
		if _, err := ReadSecretFile(c.TLSKey); err != nil {
			return fmt.Errorf("collector: tls_key: %w", err)
		}
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		return errors.New("collector: client_ca needs tls_cert and tls_key")
	}
	if c.CRLFile != "" && c.ClientCA == "" {
		return errors.New("collector: crl_file needs client_ca")
	}
	if c.MQTT.EmbeddedTLS != "" && c.ClientCA == "" {
		return errors.New("collector: mqtt.embedded_tls needs client_ca, tls_cert and tls_key")
	}
	for i, w := range c.Webhooks {
		switch w.Format {
		case "", "json", "dingtalk", "wecom":
		default:
			return fmt.Errorf("collector: webhooks[%d].format %q: want json, dingtalk or wecom", i, w.Format)
		}
		if (w.SecretFile != "" || w.Secret != "") && w.Format != "dingtalk" {
			return fmt.Errorf("collector: webhooks[%d]: a signing secret is for the dingtalk format", i)
		}
		if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
			return fmt.Errorf("collector: webhooks[%d].url %q is not an http(s) URL", i, w.URL)
		}
	}
	return os.MkdirAll(c.DataDir, 0o750)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "local"
	}
	return b.String()
}

// LoadOrCreateKey reads the receipt signing key (base64 of the 32-byte
// Ed25519 seed), creating it with mode 0600 when the file does not exist.
// A key readable by group or others is refused: whoever holds it can forge
// receipts, and a forged receipt lets a dock free a recorder's footage.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("collector: create signing key: %w", err)
		}
		_, err = f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("collector: write signing key: %w", err)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, fmt.Errorf("collector: signing key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("collector: signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: signing key %s has mode %o: chmod 600 it", ErrSecretMode, path, st.Mode().Perm())
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("collector: signing key %s: want base64 of a %d-byte Ed25519 seed", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ErrSecretMode reports a secret file (a token or a key) that group or
// others may read or write.
var ErrSecretMode = errors.New("collector: secret file readable by group or others")

// ReadSecretFile reads a token or key file, refusing one whose mode gives
// group or others any access: whoever reads a dock's token acts as that
// dock. The content is trimmed of surrounding white space.
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("collector: secret: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("collector: secret: %w", err)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return "", fmt.Errorf("%w: %s has mode %o: chmod 600 it", ErrSecretMode, path, m)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("collector: secret %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// enrolConfigured enrols the configuration's units and recorders.
func (c *Collector) enrolConfigured(ctx context.Context) error {
	for _, u := range c.cfg.Units {
		if err := c.st.EnrollUnit(ctx, store.Unit{ID: u.ID, Name: u.Name, Custodian: u.Custodian}, "config"); err != nil {
			return fmt.Errorf("collector: enrol unit %s: %w", u.ID, err)
		}
	}
	for _, r := range c.cfg.Recorders {
		key, err := base64.StdEncoding.DecodeString(r.PublicKey)
		if err != nil {
			return fmt.Errorf("collector: recorder %s public_key: %w", r.Serial, err)
		}
		if err := c.st.EnrollRecorder(ctx, store.Recorder{Serial: r.Serial, Unit: r.Unit, PublicKey: key}, "config"); err != nil {
			return fmt.Errorf("collector: enrol recorder %s: %w", r.Serial, err)
		}
	}
	return nil
}
