//go:build race

package dashboard_test

// raceEnabled is whether the test binary was built with -race.
const raceEnabled = true
