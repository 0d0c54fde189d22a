package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"testing"
)

func TestFootageLinkServesSupervisorsOnlyAndLogsEveryAccess(t *testing.T) {
	ctx := context.Background()
	var cfg Config
	cfg.DataDir = t.TempDir()
	cfg.HTTP = "127.0.0.1:0"
	cfg.MQTT.Embedded = "127.0.0.1:0"
	const supTok, auxTok = "supervisor-token-0123456789", "auxiliary-token-0123456789"
	cfg.Viewers = []Viewer{{Name: "chief-li", Role: RoleSupervisor, Token: supTok}, {Name: "aux-wang", Role: RoleAuxiliary, Token: auxTok}}
	c, err := New(ctx, cfg, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := &http.Server{Handler: c.Handler()}
	go srv.Serve(c.httpLn)
	defer srv.Close()

	// Put one object in the evidence store, as an upload would.
	clip := bytes.Repeat([]byte("berth footage "), 5000)
	sum := sha256.Sum256(clip)
	id := hex.EncodeToString(sum[:])
	sid := id[:32]
	if _, err := c.ev.Begin(ctx, sid, int64(len(clip)), id, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ev.Append(ctx, sid, 0, bytes.NewReader(clip), int64(len(clip)), id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ev.Commit(ctx, sid, id, int64(len(clip))); err != nil {
		t.Fatal(err)
	}

	get := func(path, token, rng string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, c.UploadURL()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	link := FootagePath + "/" + id
	for _, tc := range []struct {
		name, path, token string
		code              int
	}{
		{"no token", link, "", http.StatusUnauthorized},
		{"wrong token", link, "not-a-viewer-token-000000", http.StatusUnauthorized},
		{"auxiliary staff", link, auxTok, http.StatusForbidden},
		{"bad id", FootagePath + "/receipt.key", supTok, http.StatusBadRequest},
		{"upper-case id", FootagePath + "/" + hex.EncodeToString(make([]byte, 31)) + "AB", supTok, http.StatusBadRequest},
		{"unknown object", FootagePath + "/" + hex.EncodeToString(make([]byte, 32)), supTok, http.StatusNotFound},
	} {
		resp, body := get(tc.path, tc.token, "")
		if resp.StatusCode != tc.code || bytes.Contains(body, clip[:100]) {
			t.Errorf("%s: status %d (want %d), %d bytes", tc.name, resp.StatusCode, tc.code, len(body))
		}
	}
	if resp, body := get(FootagePath+"/../../receipt.key", supTok, ""); resp.StatusCode/100 != 4 || bytes.Contains(body, []byte("=")) {
		t.Errorf("path traversal: status %d, body %q", resp.StatusCode, body)
	}
	resp, body := get(link, supTok, "")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, clip) || resp.Header.Get("X-Content-SHA256") != id {
		t.Fatalf("supervisor: status %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(link, supTok, "bytes=0-99")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, clip[:100]) {
		t.Fatalf("range: status %d, %d bytes", resp.StatusCode, len(body))
	}

	acc, err := c.st.FootageAccesses(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Every request is on record: anonymous, wrong token, auxiliary, two
	// bad ids, unknown object, and two granted views.
	var granted, refused int
	for _, a := range acc {
		if a.Granted {
			granted++
			if a.Viewer != "chief-li" || a.ObjectID != id {
				t.Errorf("granted access %+v", a)
			}
		} else {
			refused++
		}
	}
	// The two bad ids are on record too: every request is, whatever its outcome.
	if granted != 2 || refused != 6 {
		t.Fatalf("access log: %d granted, %d refused, want 2 and 6: %+v", granted, refused, acc)
	}
}

func TestViewerConfigChecked(t *testing.T) {
	var cfg Config
	cfg.DataDir = t.TempDir()
	cfg.HTTP = "127.0.0.1:0"
	cfg.MQTT.Embedded = "127.0.0.1:0"
	cfg.Viewers = []Viewer{{Name: "x", Role: "janitor", Token: "0123456789abcdef0123"}}
	if c, err := New(context.Background(), cfg, Options{Log: slog.New(slog.DiscardHandler)}); err == nil {
		c.Close()
		t.Fatal("a viewer with an unknown role was accepted")
	}
}
