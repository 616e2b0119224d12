package main

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxExamples bounds the error messages a run keeps for its report.
const maxExamples = 5

// requestFunc sends request number seq of the run (warmup requests come first) and returns the HTTP status
// (0 if none arrived) and, for anything but a 2xx with a usable body, an error.
type requestFunc func(ctx context.Context, seq int) (int, error)

// phaseResult is one phase's outcome.
type phaseResult struct {
	lat       []time.Duration // one per request sent, in the order they were claimed
	status    map[string]int  // "200", "401", "transport error", "bad body", ...
	failed    int
	examples  []string
	elapsed   time.Duration
	stoppedBy string // "requests", "duration" or "interrupt"
}

// tally is one worker's count, merged when the phase ends so the workers share nothing but a counter.
type tally struct {
	status   map[string]int
	failed   int
	examples []string
}

func (t *tally) record(status int, err error) {
	t.recordKey(statusKey(status, err), err)
}

// recordKey counts one outcome under key in the histogram and, if err is not nil, as a failure.
func (t *tally) recordKey(key string, err error) {
	t.status[key]++
	if err == nil {
		return
	}
	t.failed++
	if msg := err.Error(); len(t.examples) < maxExamples && !slices.Contains(t.examples, msg) {
		t.examples = append(t.examples, msg)
	}
}

// statusKey names an outcome for the status histogram.
func statusKey(status int, err error) string {
	var se *statusError
	var be *badBodyError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.status)
	case errors.As(err, &be):
		return strconv.Itoa(status) + " bad body"
	case err != nil:
		return "transport error"
	}
	return strconv.Itoa(status)
}

// runPhase sends up to n requests from conc workers, numbered first, first+1, ..., and stops starting new
// ones when limit has passed or ctx ends. Requests in flight at the deadline are let finish (and counted),
// so that a cut-off never shows up as a failure.
func runPhase(ctx context.Context, conc, n int, limit time.Duration, first int, req requestFunc) phaseResult {
	lat := make([]time.Duration, n)
	tallies := make([]tally, conc)
	var next atomic.Int64
	var expired atomic.Bool
	timer := time.AfterFunc(limit, func() { expired.Store(true) })
	defer timer.Stop()

	start := time.Now()
	var wg sync.WaitGroup
	for w := range tallies {
		tl := &tallies[w]
		tl.status = map[string]int{}
		wg.Go(func() {
			for !expired.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				status, err := req(ctx, first+i)
				lat[i] = time.Since(t0)
				tl.record(status, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Every claimed number below n was sent, so the first done entries of lat are filled.
	done := min(int(next.Load()), n)
	res := phaseResult{lat: lat[:done], status: map[string]int{}, elapsed: elapsed}
	for _, tl := range tallies {
		for k, v := range tl.status {
			res.status[k] += v
		}
		res.failed += tl.failed
		res.examples = appendExamples(res.examples, tl.examples...)
	}
	switch {
	case done == n:
		res.stoppedBy = "requests"
	case ctx.Err() != nil:
		res.stoppedBy = "interrupt"
	default:
		res.stoppedBy = "duration"
	}
	return res
}

// appendExamples appends the messages of src not yet in dst, up to maxExamples in all.
func appendExamples(dst []string, src ...string) []string {
	for _, e := range src {
		if len(dst) < maxExamples && !slices.Contains(dst, e) {
			dst = append(dst, e)
		}
	}
	return dst
}

// percentile returns the nearest-rank p-th percentile of sorted (ascending): the smallest sample with at
// least p% of the samples at or below it. p 100 is the maximum; no samples give 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p*n is exact for whole p and any realistic n, so a rank that should be whole is not nudged up by
	// rounding (0.99*100 is not 99 in floating point; 99*100/100 is).
	rank := int(math.Ceil(p * float64(n) / 100))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
