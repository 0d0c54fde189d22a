package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// ffmpegDecode pipes an elementary stream of the given ffmpeg input format
// through `ffmpeg` and returns float samples at rate Hz, ch channels
// interleaved (ffmpeg mixes nothing: ch is the stream's own count). The
// child is killed when ctx ends.
func ffmpegDecode(ctx context.Context, format string, in []byte, rate, ch int) ([]float32, error) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFFmpegMissing, err)
	}
	cmd := exec.CommandContext(ctx, bin, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", format, "-i", "pipe:0", "-vn", "-ac", strconv.Itoa(ch), "-ar", strconv.Itoa(rate),
		"-f", "s16le", "-acodec", "pcm_s16le", "pipe:1")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, fmt.Errorf("%w: %w: %s", ErrFFmpegFailed, err, msg)
	}
	b := out.Bytes()
	pcm := make([]float32, len(b)/2)
	for i := range pcm {
		pcm[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
	}
	return pcm, nil
}
