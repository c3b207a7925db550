package config

import (
	"testing"

	"github.com/secwatch/secwatch/schemas"
)

// TestSchemaKeys keeps schemas/config.schema.json's keys those of the
// loader.
func TestSchemaKeys(t *testing.T) {
	err := schemas.Drift("config.schema.json", map[string][]string{
		"":                                        topKeys,
		"/properties/state":                       stateKeys,
		"/properties/state/properties/redis":      redisKeys,
		"/properties/engine":                      engineKeys,
		"/properties/alerts":                      alertsKeys,
		"/properties/alerts/properties/stdout":    stdoutKeys,
		"/properties/alerts/properties/sns":       snsKeys,
		"/properties/http":                        httpKeys,
		"/properties/log":                         logKeys,
		"/properties/aws":                         awsKeys,
		"/properties/alarms":                      alarmsKeys,
		"/properties/alarms/properties/heartbeat": heartbeatKeys,
		"/properties/alarms/properties/lag":       lagKeys,
		"/$defs/source":                           sourceKeyList,
		"/$defs/probe":                            probeKeys,
		"/$defs/notifier":                         notifierKeys,
	})
	if err != nil {
		t.Error(err)
	}
}
