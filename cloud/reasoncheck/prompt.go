package reasoncheck

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthdock/berth/cloud/audio"
	"github.com/berthdock/berth/cloud/vad"
)

// maxPromptFile is how much of a prompt file is decoded: past vad's limit
// on a prompt's length, so a file too long is refused, not cut.
const maxPromptFile = 7 * time.Second

// LoadPrompt enrols a recorder model's voice prompt from a WAV or MP4
// file (the prompt alone, any rate: it is resampled to the detector's):
// see vad.Prompt. name is shown in the verdicts that match it.
func LoadPrompt(ctx context.Context, name string, r io.ReaderAt, size int64) (*vad.Prompt, error) {
	clip, err := audio.Decode(ctx, r, size, maxPromptFile)
	if err != nil {
		return nil, fmt.Errorf("reasoncheck: prompt %q: %w", name, err)
	}
	clip = audio.Resample(clip, vad.Rate)
	p, err := vad.NewPrompt(name, clip.Samples, clip.Rate)
	if err != nil {
		return nil, fmt.Errorf("reasoncheck: %w", err)
	}
	return p, nil
}

// LoadPromptFiles enrols each file as a prompt named by its base name
// without the extension.
func LoadPromptFiles(ctx context.Context, paths []string) ([]*vad.Prompt, error) {
	var ps []*vad.Prompt
	for _, path := range paths {
		p, err := loadPromptFile(ctx, path)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func loadPromptFile(ctx context.Context, path string) (*vad.Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reasoncheck: prompt: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reasoncheck: prompt: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return LoadPrompt(ctx, name, f, st.Size())
}
