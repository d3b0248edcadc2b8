//go:build race

package rpcq

// raceEnabled is whether the test binary was built with -race.
const raceEnabled = true
