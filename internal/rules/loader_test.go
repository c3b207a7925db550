package rules

// Parse and Load are the rule-file loader's (internal/rulefile), set by
// rulefile_test.go: the loader imports this package, so the engine's tests
// reach it through that external test file. Both are set before any test
// runs; package-level variables of the tests must not call them.
var (
	Parse func(file string, data []byte) ([]*Rule, error)
	Load  func(paths ...string) ([]*Rule, error)
)
