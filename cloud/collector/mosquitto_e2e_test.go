package collector_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/berthdock/berth/cloud/collector"
	"github.com/berthdock/berth/cloud/pki"
	"github.com/berthdock/berth/cloud/pki/pkitest"
	"github.com/berthdock/berth/cloud/wire"
)

// mosquittoBinary finds mosquitto; the test skips without it unless
// BERTH_REQUIRE_MQTT is set.
func mosquittoBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	if os.Getenv("BERTH_REQUIRE_MQTT") != "" {
		t.Fatal("mosquitto not found and BERTH_REQUIRE_MQTT is set")
	}
	t.Skip("mosquitto not installed (set BERTH_REQUIRE_MQTT to make this a failure)")
	return ""
}

// shippedMosquittoConf is deploy/cloud/mosquitto.conf with its listener
// and TLS lines kept as shipped, pointed at the test CA's files, this
// test's port on 127.0.0.1 and a copy of deploy/cloud/acl; persistence and
// the password file (unused with use_identity_as_username) are left out.
func shippedMosquittoConf(t *testing.T, dir string, port int, caFile string, srv pkitest.Pair) string {
	t.Helper()
	f, err := os.Open("../../deploy/cloud/mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acl, err := os.ReadFile("../../deploy/cloud/acl")
	if err != nil {
		t.Fatal(err)
	}
	// The supervisors' app account the shipped acl describes in a comment.
	acl = append(acl, "\nuser "+supervisorApp+"\ntopic read berth/v1/alerts/#\n"...)
	aclFile := filepath.Join(dir, "acl")
	if err := os.WriteFile(aclFile, acl, 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	seen := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		key, val := fields[0], strings.Join(fields[1:], " ")
		seen[key] = val
		switch key {
		case "listener":
			val = fmt.Sprintf("%d 127.0.0.1", port)
		case "cafile":
			val = caFile
		case "crlfile":
			val = strings.TrimSuffix(caFile, ".crt") + ".crl"
		case "certfile":
			val = srv.Cert
		case "keyfile":
			val = srv.Key
		case "acl_file":
			val = aclFile
		case "per_listener_settings", "allow_anonymous", "protocol", "require_certificate", "use_identity_as_username",
			"use_username_as_clientid", "tls_version", "max_packet_size", "max_inflight_messages", "max_queued_messages":
		default: // password_file, persistence, persistence_location
			continue
		}
		fmt.Fprintf(&out, "%s %s\n", key, val)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if seen["require_certificate"] != "true" || seen["use_identity_as_username"] != "true" || seen["use_username_as_clientid"] != "true" || seen["crlfile"] == "" ||
		seen["allow_anonymous"] != "false" {
		t.Fatalf("deploy/cloud/mosquitto.conf no longer requires certificates as identities: %v", seen)
	}
	out.WriteString("persistence false\nlog_dest stderr\n")
	if os.Geteuid() == 0 {
		out.WriteString("user root\n") // mosquitto would switch to its own user, who cannot read the test's files
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// supervisorApp is the account (certificate CN) of the supervisors' app in
// the test's copy of the acl.
const supervisorApp = "app-supervisors"

// startMosquitto runs mosquitto on deploy/cloud/mosquitto.conf's listener
// as shipped, with ca's server certificate, until the test ends, and
// returns its ssl:// URL.
func startMosquitto(t *testing.T, ca *pkitest.CA) string {
	url, _ := runMosquitto(t, ca)
	return url
}

// runMosquitto is startMosquitto, also returning a function that sends
// mosquitto SIGHUP (reload).
func runMosquitto(t *testing.T, ca *pkitest.CA) (string, func()) {
	t.Helper()
	bin := mosquittoBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	port := freePort(t)
	conf := shippedMosquittoConf(t, ca.Dir, port, ca.CAFile, ca.Server())
	cmd := exec.CommandContext(ctx, bin, "-c", conf)
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-waited
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", logs.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, "mosquitto listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "ssl://" + addr, func() {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mosquittoCollector configures a collector instance named name (its
// certificate's CN, a user of the shipped acl) on the Mosquitto at url.
func mosquittoCollector(t *testing.T, ca *pkitest.CA, url, name string) collector.Config {
	t.Helper()
	coll := ca.Collector(name)
	var cc collector.Config
	cc.DataDir = filepath.Join(t.TempDir(), name)
	cc.HTTP = "127.0.0.1:0"
	cc.MQTT.Broker = url
	cc.MQTT.CAFile, cc.MQTT.CertFile, cc.MQTT.KeyFile = ca.CAFile, coll.Cert, coll.Key
	cc.MQTT.ClientID = name + "-" + randHex(3) // the broker replaces it with the CN
	cc.Analysis.Every = time.Hour
	return cc
}

func clientTLS(t *testing.T, p pkitest.Pair, caFile string) *tls.Config {
	t.Helper()
	cfg, err := pki.ClientTLS(caFile, p.Cert, p.Key)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Mosquitto with deploy/cloud/mosquitto.conf's TLS listener and ACL as
// shipped: two collectors (collector-a and collector-b, one certificate
// each, one shared subscription) ingest; a dock with its certificate (CN
// its id, the ACL's %u) reports and is acknowledged; a certificate of
// another CA or none is refused, and dock-a's certificate cannot report as
// dock-b. dock-a's certificate connecting with dock-b's client id or the
// collectors' (ten rounds, while dock-b reports) disconnects none of them:
// the broker gives every certificate its own CN as client id, and every
// report of dock-b is committed.
func TestMosquittoMutualTLS(t *testing.T) {
	ca, other := pkitest.New(t), pkitest.New(t)
	url := startMosquitto(t, ca)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	tokA, tokB := randHex(16), randHex(16)
	var cols []*collector.Collector
	var ccs []collector.Config
	for _, name := range []string{"collector-a", "collector-b"} {
		cc := mosquittoCollector(t, ca, url, name)
		cc.Units = []collector.UnitEnrolment{{ID: "unit-a", Custodian: "cust-a"}, {ID: "unit-b", Custodian: "cust-b"}}
		cc.Docks = []collector.DockEnrolment{{ID: "dock-a", Unit: "unit-a", Token: tokA}, {ID: "dock-b", Unit: "unit-b", Token: tokB}}
		ccs = append(ccs, cc)
		cols = append(cols, runCollector(t, ctx, cancel, cc, slog.New(slog.DiscardHandler)))
	}

	certA := clientTLS(t, ca.Dock("dock-a"), ca.CAFile)
	a, err := dockConnectTLS(t, url, certA, wire.DockClientID("dock-a"), "dock-a", "", "")
	if err != nil {
		t.Fatalf("dock-a with its certificate: %v", err)
	}
	now := time.Now().UTC()
	good := &wire.DeviceHealth{Serial: "REC-A", Firmware: "2.0.0", DockedAt: now, DockClock: now,
		Battery: wire.Battery{Percent: 50, HealthPct: 90}, Storage: wire.Storage{TotalBytes: 100, FreeBytes: 50, HealthPct: 100}}
	a.waitAcked(t, a.publish(t, wire.DeviceTopic("dock-a", "REC-A"), wire.TypeDeviceHealth, now, good))

	noCert, err := pki.ClientTLS(ca.CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]*tls.Config{
		"no certificate":           noCert,
		"another CA's certificate": clientTLS(t, other.Dock("dock-a"), ca.CAFile),
	} {
		if _, err := dockConnectTLS(t, url, cfg, wire.DockClientID("dock-a")+"-x", "dock-a", "dock-a", tokA); err == nil {
			t.Errorf("mosquitto, %s: connected", name)
		}
	}

	// dock-a's certificate publishing as dock-b: the ACL (%u = dock-a)
	// drops it; it is never committed.
	a.publish(t, wire.DeviceTopic("dock-b", "REC-B"), wire.TypeDeviceHealth, now, &wire.DeviceHealth{Serial: "REC-B",
		Firmware: "6.6.6", DockedAt: now, DockClock: now, Battery: wire.Battery{Percent: 1, HealthPct: 1},
		Storage: wire.Storage{TotalBytes: 1, HealthPct: 1}})
	a.waitAcked(t, a.publish(t, wire.DeviceTopic("dock-a", "REC-A"), wire.TypeDeviceHealth, now, good))
	for _, col := range cols {
		devs, err := col.Store().Devices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range devs {
			if d.Serial == "REC-B" {
				t.Errorf("dock-a's certificate reported REC-B through mosquitto: %+v", d)
			}
		}
	}

	// Takeovers: while dock-b reports, dock-a's certificate connects as
	// dock-b's client id and as each collector's (configured id and CN).
	b, err := dockConnectTLS(t, url, clientTLS(t, ca.Dock("dock-b"), ca.CAFile), wire.DockClientID("dock-b"), "dock-b", "", "")
	if err != nil {
		t.Fatalf("dock-b with its certificate: %v", err)
	}
	targets := []string{wire.DockClientID("dock-b"), "dock-b"}
	for _, cc := range ccs {
		targets = append(targets, cc.MQTT.ClientID, filepath.Base(cc.DataDir))
	}
	const reports = 200
	var bIDs []string
	for i := range reports {
		bIDs = append(bIDs, b.publish(t, wire.StateTopic("dock-b"), wire.TypeDockState, time.Now().UTC(),
			&wire.DockState{State: wire.DockOnline, Version: "1.0.0", Slots: 4}))
		if i%20 == 0 {
			for _, id := range targets {
				takeover(t, url, certA, id)
			}
		}
	}
	b.waitAcked(t, bIDs...)
	select {
	case err := <-b.lost:
		t.Errorf("dock-a's certificate took over dock-b's session: %v", err)
	default:
	}
	committed := 0.0
	for i, col := range cols {
		if lost := counterTotal(t, col, "berth_ingest_connections_lost_total"); lost != 0 {
			t.Errorf("%s lost its MQTT connection %v times to dock-a's certificate", filepath.Base(ccs[i].DataDir), lost)
		}
		committed += counterTotal(t, col, "berth_ingest_committed_total")
	}
	if committed < reports+2 {
		t.Errorf("%v reports committed, want at least %d", committed, reports+2)
	}
}

// takeover connects with cfg's certificate asking for client id, as an
// attacker would (no subscription, kept until the test ends).
func takeover(t *testing.T, url string, cfg *tls.Config, id string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(cfg).
		SetCleanSession(false).SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Logf("certificate as %q: %v", id, tok.Error())
		return
	}
	t.Cleanup(func() { c.Disconnect(50) })
}
