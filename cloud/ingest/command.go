package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdock/berth/cloud/store"
	"github.com/berthdock/berth/cloud/wire"
)

// PublishCommand records cmd for dock in the store (the commands table is
// the collector's record of what it asked) and publishes it at QoS 1 on
// berth/v1/docks/{dock}/cmd through one of Run's connections, waiting for
// the broker's PUBACK or ctx. It returns the command's message id. Run must
// be running (ErrNotConnected otherwise).
func (in *Ingest) PublishCommand(ctx context.Context, dock string, cmd wire.Command) (string, error) {
	if err := wire.ValidID(dock); err != nil {
		return "", fmt.Errorf("ingest: command: %w", err)
	}
	if err := cmd.Validate(); err != nil {
		return "", fmt.Errorf("ingest: command: %w", err)
	}
	cl, err := in.publisher()
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("cmd-%s-%d", in.instance, in.ackSeq.Add(1))
	env, err := wire.NewEnvelope(id, dock, in.clock.Now(), wire.TypeCommand, &cmd)
	if err != nil {
		return "", err
	}
	b, err := env.Marshal()
	if err != nil {
		return "", fmt.Errorf("ingest: encode command: %w", err)
	}
	if _, err := in.st.Commit(ctx, []store.Incoming{{Env: env, Body: &cmd}}); err != nil {
		return "", fmt.Errorf("ingest: record command: %w", err)
	}
	tok := cl.Publish(wire.CmdTopic(dock), 1, false, b)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return "", fmt.Errorf("ingest: publish command: %w", err)
		}
	case <-ctx.Done():
		return "", fmt.Errorf("ingest: publish command: %w", ctx.Err())
	case <-in.clock.After(30 * time.Second):
		return "", fmt.Errorf("ingest: publish command: %w: no PUBACK", ErrNotConnected)
	}
	return id, nil
}
