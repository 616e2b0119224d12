package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestCollector keeps the client API's request counter and latency histogram, by route and status,
// as one set of series: each request adds one to its latency bucket and its latency to the sum, two
// atomic additions, and a scrape derives the counter (the buckets' total) and the histogram from them.
// The Prometheus client's own counter and histogram would cost five.
type requestCollector struct {
	count, latency *prometheus.Desc

	mu     sync.Mutex
	series []*series // every series made, in the order made
}

// series is one route's requests of one status.
type series struct {
	route, status string
	buckets       [len(requestBuckets) + 1]atomic.Uint64 // by requestBuckets; the last is beyond them all
	sum           atomic.Int64                           // nanoseconds
}

func newRequestCollector(countName, latencyName string) *requestCollector {
	labels := []string{"route", "status"}
	return &requestCollector{
		count: prometheus.NewDesc(countName, "Client API requests answered, by route pattern and HTTP status.", labels, nil),
		latency: prometheus.NewDesc(latencyName, "Time from a client API request's arrival to its answer "+
			"(for /ws, to the upgrade), by route pattern and HTTP status.", labels, nil),
	}
}

// newSeries makes the series of route and status and has it collected.
func (c *requestCollector) newSeries(route string, status int) *series {
	s := &series{route: route, status: strconv.Itoa(status)}
	c.mu.Lock()
	c.series = append(c.series, s)
	c.mu.Unlock()
	return s
}

func (c *requestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.latency
}

func (c *requestCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	all := c.series[:len(c.series):len(c.series)]
	c.mu.Unlock()
	for _, s := range all {
		cumulative := make(map[float64]uint64, len(requestBuckets))
		var n uint64
		for i, le := range requestBuckets {
			n += s.buckets[i].Load()
			cumulative[le.Seconds()] = n
		}
		n += s.buckets[len(requestBuckets)].Load()
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.CounterValue, float64(n), s.route, s.status)
		ch <- prometheus.MustNewConstHistogram(c.latency, n, time.Duration(s.sum.Load()).Seconds(), cumulative, s.route, s.status)
	}
}

// statuses are the HTTP statuses the client API answers with: the gRPC codes' statuses, the websocket's
// 101, and 200. Each route finds their series without a lock; another status takes a locked path.
var statuses = [...]int{101, 200, 204, 400, 401, 403, 404, 409, 412, 413, 429, 499, 500, 501, 503, 504}

// routeStats is one route's series by status, each made on first use, so that a route that never
// answers 409 has no 409 series.
type routeStats struct {
	c     *requestCollector
	route string
	known [len(statuses)]atomic.Pointer[series]

	mu    sync.Mutex
	other map[int]*series
}

func (r *routeStats) observe(status int, d time.Duration) {
	s := r.series(status)
	i := 0
	for i < len(requestBuckets) && d > requestBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sum.Add(int64(d))
}

func (r *routeStats) series(status int) *series {
	for i, known := range statuses {
		if known != status {
			continue
		}
		if s := r.known[i].Load(); s != nil {
			return s
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if s := r.known[i].Load(); s != nil {
			return s
		}
		s := r.c.newSeries(r.route, status)
		r.known[i].Store(s)
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.other[status]
	if s == nil {
		if r.other == nil {
			r.other = map[int]*series{}
		}
		s = r.c.newSeries(r.route, status)
		r.other[status] = s
	}
	return s
}
