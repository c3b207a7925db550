package alerting

import (
	"encoding/json"
	"time"
)

// ActiveStore keeps the alerts an Alertmanager re-posts with the state
// (the state directory or Redis), so that a restarted daemon, or another
// replica, goes on re-posting them until their end instead of letting
// Alertmanager resolve them early (docs/notifiers.md, "Alertmanager"). A
// record is opaque JSON. Its methods may be called concurrently.
type ActiveStore interface {
	Save(id string, record []byte) error
	Remove(id string) error
	// Load returns every record by alert_id.
	Load() (map[string][]byte, error)
}

// amRecord is an active alert as an ActiveStore keeps it.
type amRecord struct {
	Alert amAlert   `json:"alert"`
	Until time.Time `json:"until"`
}

// save stores act for id; a failure is logged: the alert is delivered,
// and this process re-posts it from memory.
func (a *Alertmanager) save(id string, act *amActive) {
	if a.Store == nil {
		return
	}
	b, err := json.Marshal(amRecord{Alert: act.alert, Until: act.until})
	if err == nil {
		err = a.Store.Save(id, b)
	}
	if err != nil {
		a.Log.Error().Err(err).Str("notifier", a.Name()).Str("alert_id", id).Msg("alertmanager active alert not stored; re-posted from memory only")
	}
}

// load adds the stored alerts that are not held yet and have not ended at
// now: those of an earlier run, or of another replica. It returns the
// error of the store.
func (a *Alertmanager) load(now time.Time) error {
	if a.Store == nil {
		return nil
	}
	recs, err := a.Store.Load()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active == nil {
		a.active = make(map[string]*amActive)
	}
	for id, b := range recs {
		var r amRecord
		if json.Unmarshal(b, &r) != nil || r.Alert.Labels["alert_id"] != id {
			a.Store.Remove(id) // unusable: nothing to re-post
			continue
		}
		if _, ok := a.active[id]; !ok && now.Before(r.Until) {
			a.active[id] = &amActive{alert: r.Alert, until: r.Until}
		}
	}
	return nil
}
