package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/latchkeyhq/latchkey/internal/metrics"
)

// scrape serves the handler once and parses Prometheus's text format.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parsing: %v\n%s", err, w.Body)
	}
	return fams
}

// labels renders a series' labels as name=value pairs.
func labels(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.GetLabel() {
		b.WriteString(l.GetName() + "=" + l.GetValue() + " ")
	}
	return strings.TrimSpace(b.String())
}

// TestNames: every Latchkey metric carries the configured prefix, the gauges registered later too, while
// the Go runtime's and the process's keep their standard names; build_info says "dev" without a version.
func TestNames(t *testing.T) {
	m := metrics.New(metrics.Config{Prefix: "lk"})
	m.GaugeFunc("denylist_entries", "test", func() float64 { return 7 })
	m.Route("GET /x")(200, time.Millisecond)
	m.Refused("auth")
	fams := scrape(t, m)
	for _, name := range []string{"lk_http_requests_total", "lk_http_request_duration_seconds", "lk_limit_refusals_total",
		"lk_denylist_entries", "lk_build_info", "go_goroutines", "go_gc_duration_seconds", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if g := fams["lk_denylist_entries"]; g == nil || g.GetMetric()[0].GetGauge().GetValue() != 7 {
		t.Errorf("lk_denylist_entries = %v, want 7 read at scrape time", g)
	}
	if b := fams["lk_build_info"]; b == nil || !strings.Contains(labels(b.GetMetric()[0]), "version=dev") {
		t.Errorf("build_info = %v, want version=dev", b)
	}
	for name := range fams {
		if strings.HasPrefix(name, "latchkey_") {
			t.Errorf("%s ignores the prefix", name)
		}
	}
}

// TestRouteStatuses: a route's requests are counted by status, the statuses resolved ahead and any other
// alike, and the latency histogram counts the same requests.
func TestRouteStatuses(t *testing.T) {
	m := metrics.New(metrics.Config{})
	rec := m.Route("GET /v2/account")
	for _, s := range []int{200, 200, 401, 418} {
		rec(s, time.Millisecond)
	}
	fams := scrape(t, m)
	got := map[string]float64{}
	for _, s := range fams["latchkey_http_requests_total"].GetMetric() {
		got[labels(s)] = s.GetCounter().GetValue()
	}
	want := map[string]float64{"route=GET /v2/account status=200": 2, "route=GET /v2/account status=401": 1, "route=GET /v2/account status=418": 1}
	if len(got) != len(want) {
		t.Errorf("series = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for _, s := range fams["latchkey_http_request_duration_seconds"].GetMetric() {
		if n := s.GetHistogram().GetSampleCount(); float64(n) != want[labels(s)] {
			t.Errorf("latency %s counts %d, want %v", labels(s), n, want[labels(s)])
		}
	}
}

// TestRouteNoAllocs: recording a request of a known status allocates nothing once its series exists.
func TestRouteNoAllocs(t *testing.T) {
	m := metrics.New(metrics.Config{})
	rec := m.Route("GET /v2/account")
	rec(200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { rec(200, time.Millisecond) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
	op := m.Operation("UserByID")
	if n := testing.AllocsPerRun(1000, func() { op(time.Millisecond, false) }); n != 0 {
		t.Errorf("%v allocations per store call", n)
	}
}

// BenchmarkRouteObserve is what metrics add to each client API request: a request counter and a latency
// histogram observation, on an already resolved series.
func BenchmarkRouteObserve(b *testing.B) {
	rec := metrics.New(metrics.Config{}).Route("GET /v2/account")
	rec(200, time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		rec(200, 300*time.Microsecond)
	}
}
