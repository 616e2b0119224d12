//go:build race

package tokens

// raceEnabled is true when built with -race, which makes sync.Pool drop items at random.
const raceEnabled = true
