package collector

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every footage request is on record whatever its outcome: a wrong method
// and a bad id too, bounded in size; an anonymous flood is folded into a
// few records that count the rest.
func TestFootageRequestsAlwaysLogged(t *testing.T) {
	ctx := context.Background()
	var cfg Config
	cfg.DataDir = t.TempDir()
	cfg.HTTP = "127.0.0.1:0"
	cfg.MQTT.Embedded = "127.0.0.1:0"
	const supTok = "supervisor-token-0123456789"
	cfg.Viewers = []Viewer{{Name: "chief-li", Role: RoleSupervisor, Token: supTok}}
	c, err := New(ctx, cfg, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := &http.Server{Handler: c.Handler()}
	go srv.Serve(c.httpLn)
	defer srv.Close()

	do := func(method, path, token string) int {
		req, _ := http.NewRequest(method, c.UploadURL()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	id := strings.Repeat("ab", 32)
	if code := do(http.MethodDelete, FootagePath+"/"+id, supTok); code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", code)
	}
	as, err := c.st.FootageAccesses(ctx, id, 10)
	if err != nil || len(as) != 1 || as[0].Viewer != "chief-li" || as[0].Granted || !strings.Contains(as[0].Reason, "DELETE") {
		t.Fatalf("DELETE not on record: %+v %v", as, err)
	}
	long := "not-an-id-" + strings.Repeat("x", 5000)
	if code := do(http.MethodGet, FootagePath+"/"+long, supTok); code != http.StatusBadRequest {
		t.Fatalf("bad id: %d", code)
	}
	if as, err := c.st.FootageAccesses(ctx, loggable(long, 200), 10); err != nil || len(as) != 1 || len(as[0].ObjectID) > 220 {
		t.Fatalf("bad id not on record, bounded: %+v %v", as, err)
	}

	const flood = 200
	for range flood {
		do(http.MethodGet, FootagePath+"/zz", "")
	}
	time.Sleep(300 * time.Millisecond) // the pace lets one more record through
	do(http.MethodGet, FootagePath+"/zz", "")
	as, err = c.st.FootageAccesses(ctx, "zz", 1000)
	if err != nil || len(as) == 0 || len(as) > flood/2 {
		t.Fatalf("%d records for %d anonymous requests (%v)", len(as), flood+1, err)
	}
	folded := false
	for _, a := range as {
		folded = folded || strings.Contains(a.Reason, "more anonymous requests refused")
	}
	if !folded {
		t.Errorf("the flood's count is nowhere on record: %+v", as[0])
	}
}
