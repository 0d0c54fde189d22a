package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook formats.
const (
	FormatJSON     = "json"     // the Alert as JSON
	FormatDingTalk = "dingtalk" // DingTalk custom robot, markdown message
	FormatWeCom    = "wecom"    // WeCom (企业微信) group robot, markdown message
)

// Webhook posts alerts to an HTTP endpoint in one of the formats.
type Webhook struct {
	URL    string
	Format string
	Client *http.Client
	// Secret is a DingTalk robot's signing secret (加签, "SEC..."): each
	// delivery then carries timestamp and sign query parameters. Empty:
	// unsigned (a robot guarded by keywords or IP addresses).
	Secret string
	// Now is the signing clock (nil: time.Now).
	Now func() time.Time
}

// DingTalkSign is the DingTalk robot signature of a millisecond
// timestamp: base64 of HMAC-SHA256, keyed by the secret, over
// "timestamp\nsecret" (the robot refuses a timestamp an hour off).
func DingTalkSign(timestampMs int64, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d\n%s", timestampMs, secret)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// target is the URL a delivery posts to: with a DingTalk secret, the
// robot's URL with timestamp and sign added (sign URL-encoded).
func (w *Webhook) target() (string, error) {
	if w.Secret == "" || w.Format != FormatDingTalk {
		return w.URL, nil
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return "", err
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := now().UnixMilli()
	q := u.Query()
	q.Set("timestamp", strconv.FormatInt(ts, 10))
	q.Set("sign", DingTalkSign(ts, w.Secret))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ErrDelivery reports an endpoint that refused or failed a delivery.
var ErrDelivery = fmt.Errorf("alert: delivery failed")

// Deliver posts one alert. Robots answer 200 with an error code in the body
// (errcode != 0), which is a failure too.
func (w *Webhook) Deliver(ctx context.Context, a Alert) error {
	body, err := Render(w.Format, a)
	if err != nil {
		return err
	}
	target, err := w.target()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDelivery, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDelivery, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDelivery, err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s answered %s", ErrDelivery, w.URL, resp.Status)
	}
	if w.Format == FormatDingTalk || w.Format == FormatWeCom {
		var r struct {
			ErrCode int    `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if json.Unmarshal(reply, &r) == nil && r.ErrCode != 0 {
			return fmt.Errorf("%w: robot errcode %d: %s", ErrDelivery, r.ErrCode, r.ErrMsg)
		}
	}
	return nil
}

// Render encodes an alert in a webhook format.
func Render(format string, a Alert) ([]byte, error) {
	switch format {
	case FormatJSON, "":
		return json.Marshal(a)
	case FormatDingTalk:
		return json.Marshal(map[string]any{
			"msgtype":  "markdown",
			"markdown": map[string]string{"title": a.Title, "text": markdown(a)},
		})
	case FormatWeCom:
		return json.Marshal(map[string]any{
			"msgtype":  "markdown",
			"markdown": map[string]string{"content": markdown(a)},
		})
	}
	return nil, fmt.Errorf("%w: unknown webhook format %q", ErrInvalid, format)
}

// markdown is the message robots show: what, who, when, why, the clip.
func markdown(a Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### [%s] %s\n", strings.ToUpper(a.Severity), a.Title)
	fmt.Fprintf(&b, "- 单位 unit: %s\n", a.Unit)
	if a.Officer != "" {
		fmt.Fprintf(&b, "- 民警 officer: %s\n", a.Officer)
	}
	if a.Serial != "" {
		fmt.Fprintf(&b, "- 执法记录仪 recorder: %s (seq %d)\n", a.Serial, a.Seq)
	}
	if !a.Evidence.StoppedAt.IsZero() {
		fmt.Fprintf(&b, "- 中断 stopped: %s (%s)\n", a.Evidence.StoppedAt.Format(time.DateTime), a.Evidence.StopCause)
	}
	if !a.Evidence.ResumedAt.IsZero() {
		fmt.Fprintf(&b, "- 恢复 resumed: %s\n", a.Evidence.ResumedAt.Format(time.DateTime))
	}
	if a.Evidence.ReasonSpoken != nil {
		fmt.Fprintf(&b, "- 语音说明 speech heard: %.1f s\n", a.Evidence.SpeechSeconds)
	}
	if a.Rule != nil {
		fmt.Fprintf(&b, "- 依据 rule %d: %s / %s — %s\n", a.Rule.Number, a.Rule.ZH, a.Rule.EN, a.Rule.Articles)
	}
	fmt.Fprintf(&b, "\n%s\n", a.Detail)
	if a.Link != "" {
		fmt.Fprintf(&b, "\n[查看告警与录像（需登录） open the alert (sign-in required)](%s)\n", a.Link)
	}
	return b.String()
}
