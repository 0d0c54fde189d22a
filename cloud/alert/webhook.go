package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
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
	if a.Evidence.ClipURL != "" {
		fmt.Fprintf(&b, "\n[片段 clip](%s)\n", a.Evidence.ClipURL)
	}
	return b.String()
}
