// Package daemon is the fixture's daemon: it reaches notify through an import.
package daemon

import _ "example.com/fixture/internal/notify"
