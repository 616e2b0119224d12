// Package metrics provides Latchkey's Prometheus metrics: a registry of its own holding the server's
// counters, gauges and histograms, the observer methods the domain packages report to, and the handler
// that serves them in Prometheus's text format.
//
// The domain packages do not import Prometheus: each declares the small observer it reports to, which
// *Metrics implements, and a nil observer means metrics are off. Every label value comes from a fixed set
// (route patterns, identity kinds, outcome and reason words, storage operations), never from a request,
// so that the number of series stays bounded whatever clients send.
package metrics

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config names the metrics and the build they describe.
type Config struct {
	// Prefix starts every metric name but the Go runtime's and the process's (metrics.prefix);
	// "latchkey" when empty.
	Prefix string
	// Version is the server version, the build_info metric's version label; "dev" when empty.
	Version string
}

// Metrics holds the server's metrics in a registry of its own. Its methods are safe for concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	prefix string

	requests     *requestCollector
	auths        *prometheus.CounterVec // kind, outcome
	refreshes    *prometheus.CounterVec // outcome
	reuse        prometheus.Counter
	revocations  *prometheus.CounterVec // reason
	storeLatency *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
	hashWait     prometheus.Histogram
	refusals     *prometheus.CounterVec // limit
}

// Buckets, in seconds. A request is answered from memory in well under a millisecond and a login with a
// password takes tens of milliseconds; a store call is a fraction of a millisecond on SQLite and a network
// round trip on PostgreSQL; the hash queue wait is bounded by auth.max_hash_wait_ms (1 s by default).
var (
	requestBuckets = [...]time.Duration{500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
		5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
		5 * time.Second}
	storeBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
	hashBuckets  = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}
)

// New returns the metrics, registered with the Go runtime and process collectors and build_info.
func New(c Config) *Metrics {
	p := c.Prefix
	if p == "" {
		p = "latchkey"
	}
	name := func(n string) string { return p + "_" + n }
	m := &Metrics{
		reg: prometheus.NewRegistry(), prefix: p,
		requests: newRequestCollector(name("http_requests_total"), name("http_request_duration_seconds")),
		auths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("authentications_total"),
			Help: "Authenticate calls on the client API, by identity kind and outcome.",
		}, []string{"kind", "outcome"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("session_refreshes_total"),
			Help: "Session refreshes, by outcome.",
		}, []string{"outcome"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: name("refresh_token_reuse_detected_total"),
			Help: "Superseded refresh tokens presented after the grace window; each ended its session.",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("session_revocations_total"),
			Help: "Sessions ended by this node, by reason.",
		}, []string{"reason"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    name("store_call_duration_seconds"),
			Help:    "Time of store calls, by storage operation.",
			Buckets: storeBuckets,
		}, []string{"operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("store_call_errors_total"),
			Help: "Store calls that failed (not counting the contract's answers: not found, conflict, taken), by storage operation.",
		}, []string{"operation"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    name("password_hash_queue_wait_seconds"),
			Help:    "Time a password hash or check waited for a bcrypt slot, admitted or refused.",
			Buckets: hashBuckets,
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("limit_refusals_total"),
			Help: "Requests refused by an abuse limit, by limit.",
		}, []string{"limit"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        name("build_info"),
		Help:        "Always 1; its labels describe the running build.",
		ConstLabels: buildLabels(c.Version),
	})
	build.Set(1)
	m.reg.MustRegister(
		m.requests, m.auths, m.refreshes, m.reuse, m.revocations, m.storeLatency, m.storeErrors,
		m.hashWait, m.refusals, build,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// buildLabels are build_info's labels: the version, the Go version and, when the build recorded it, the
// commit.
func buildLabels(version string) prometheus.Labels {
	if version == "" {
		version = "dev"
	}
	l := prometheus.Labels{"version": version, "goversion": runtime.Version(), "revision": "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				l["revision"] = s.Value
			}
		}
	}
	return l
}

// Handler serves the registry in Prometheus's exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// GaugeFunc registers a gauge whose value fn reads at each scrape, so that keeping it costs nothing
// between scrapes; name is prefixed like every other metric's. fn must be quick and safe for concurrent
// use.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.prefix + "_" + name, Help: help}, fn))
}

// Authentication counts one authenticate call.
func (m *Metrics) Authentication(kind, outcome string) { m.auths.WithLabelValues(kind, outcome).Inc() }

// Refreshed counts one session refresh.
func (m *Metrics) Refreshed(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// ReuseDetected counts one refresh-token reuse detection.
func (m *Metrics) ReuseDetected() { m.reuse.Inc() }

// Revoked counts n sessions ended for reason.
func (m *Metrics) Revoked(reason string, n int) {
	if n > 0 {
		m.revocations.WithLabelValues(reason).Add(float64(n))
	}
}

// Refused counts one request refused by the named limit.
func (m *Metrics) Refused(limit string) { m.refusals.WithLabelValues(limit).Inc() }

// HashWait records how long a password hash waited for a bcrypt slot.
func (m *Metrics) HashWait(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// Operation returns the recorder of one storage operation's calls: how long each took and whether it
// failed. The label is resolved here, once, so that recording a call is a few atomic operations.
func (m *Metrics) Operation(op string) func(d time.Duration, failed bool) {
	lat, errs := m.storeLatency.WithLabelValues(op), m.storeErrors.WithLabelValues(op)
	return func(d time.Duration, failed bool) {
		lat.Observe(d.Seconds())
		if failed {
			errs.Inc()
		}
	}
}

// Route returns the recorder of one route's requests, by status. route is the route's label value: a
// pattern of the route table, or one word for the requests no route matched.
func (m *Metrics) Route(route string) func(status int, d time.Duration) {
	r := &routeStats{c: m.requests, route: route}
	return r.observe
}
