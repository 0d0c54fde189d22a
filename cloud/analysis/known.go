package analysis

import (
	"context"
	"sync"

	"github.com/berthdock/berth/cloud/store"
)

// knownAlerts is what a judgement knows of the alerts it may raise or
// change: a batch reads those of all its recorders' findings at once, by
// key (Store.AlertsByKeys), instead of one read per finding. A key it did
// not read, or one the engine wrote since, is read from the store: an
// alert raised and looked up again in one judgement (an explained
// interruption, stored and then closed) is seen as stored.
type knownAlerts struct {
	st   Store
	mu   sync.Mutex
	read map[string]bool        // the keys read at once, and not written since
	got  map[string]store.Alert // those of them an alert has
}

// known makes the knowledge of the alerts with keys, got as read (nil:
// none read; every lookup goes to the store).
func (e *Engine) known(keys []string, got map[string]store.Alert) *knownAlerts {
	k := &knownAlerts{st: e.st, read: make(map[string]bool, len(keys)), got: got}
	for _, key := range keys {
		k.read[key] = true
	}
	return k
}

// byKey is Store.AlertByKey.
func (k *knownAlerts) byKey(ctx context.Context, key string) (store.Alert, bool, error) {
	k.mu.Lock()
	read := k.read[key]
	a, ok := k.got[key]
	k.mu.Unlock()
	if read {
		return a, ok, nil
	}
	return k.st.AlertByKey(ctx, key)
}

// forget drops what was read of key: it is read from the store again.
func (k *knownAlerts) forget(key string) {
	k.mu.Lock()
	delete(k.read, key)
	k.mu.Unlock()
}

// upsert is Store.UpsertAlert.
func (k *knownAlerts) upsert(ctx context.Context, a store.Alert) (bool, error) {
	k.forget(a.Key)
	return k.st.UpsertAlert(ctx, a)
}

// close is Store.CloseAlert of a.
func (k *knownAlerts) close(ctx context.Context, a store.Alert, by string) error {
	k.forget(a.Key)
	return k.st.CloseAlert(ctx, a.ID, by)
}
