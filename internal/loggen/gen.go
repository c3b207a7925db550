package loggen

// Regenerate the recorded logs in testdata/logs (TestRecordedLogs checks
// them against the generator).
//go:generate sh ../../scripts/gen-testdata.sh
