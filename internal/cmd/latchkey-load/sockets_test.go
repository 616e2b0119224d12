package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeRealtime stands in for a server's device authentication and realtime socket. It issues the session
// token "tok-<device id>", upgrades /ws only for a token it issued, answers each {"cid","ping":{}} envelope
// with a pong carrying the same cid, and sends websocket pings of its own every few milliseconds.
type fakeRealtime struct {
	refuse bool // answer every /ws with 401 and a plain-text body, as a server refusing the token does
	silent bool // never answer a ping envelope
	hangUp bool // close each socket right after the upgrade

	mu      sync.Mutex
	devices map[string]bool
	sources map[string]bool // the client addresses the sockets came from

	sockets atomic.Int64 // upgraded
	pongs   atomic.Int64 // websocket pongs the client sent back
	closes  atomic.Int64 // normal close frames received
}

func (f *fakeRealtime) start(t *testing.T) string {
	t.Helper()
	f.devices = map[string]bool{}
	f.sources = map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") })
	mux.HandleFunc("POST /v2/account/authenticate/device", f.authenticate)
	mux.HandleFunc("GET /ws", f.socket)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL
}

func (f *fakeRealtime) authenticate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ID string `json:"id"`
	}
	user, pass, _ := r.BasicAuth()
	if user != "defaultkey" || pass != "" || r.URL.Query().Get("create") != "true" {
		http.Error(w, `{"code":16,"message":"Server key invalid"}`, http.StatusUnauthorized)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.ID) < 10 || len(body.ID) > 128 {
		http.Error(w, `{"code":3,"message":"Device ID invalid"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.devices[body.ID] = true
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"token": "tok-" + body.ID, "refresh_token": "ref-" + body.ID, "created": true})
}

var upgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512}

func (f *fakeRealtime) socket(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if f.refuse || !strings.HasPrefix(q.Get("token"), "tok-") || q.Get("format") != "json" || q.Get("status") != "false" {
		http.Error(w, "Auth token invalid", http.StatusUnauthorized)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	f.sockets.Add(1)
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	f.mu.Lock()
	f.sources[host] = true
	f.mu.Unlock()
	if f.hangUp {
		return
	}
	c.SetPongHandler(func(string) error { f.pongs.Add(1); return nil })
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				f.closes.Add(1)
			}
			return
		}
		var env struct {
			CID  string    `json:"cid"`
			Ping *struct{} `json:"ping"`
		}
		if json.Unmarshal(msg, &env) != nil || env.Ping == nil || f.silent {
			continue
		}
		pong, _ := json.Marshal(map[string]any{"cid": env.CID, "pong": struct{}{}})
		if c.WriteMessage(websocket.TextMessage, pong) != nil {
			return
		}
	}
}

// loadSockets runs the sockets scenario with small caps and returns its exit code and parsed result.
func loadSockets(t *testing.T, url string, extra ...string) (int, socketsResult) {
	t.Helper()
	args := append([]string{"--url", url, "--scenario", "sockets", "--concurrency", "8", "--sockets", "50",
		"--dial-concurrency", "8", "--ping-bursts", "2", "--burst-size", "10", "--source-ips", "4",
		"--duration", "5s", "--timeout", "2s", "--json"}, extra...)
	var res socketsResult
	code := runJSON(t, args, &res)
	return code, res
}

// eventually waits up to two seconds for cond, since the fake server counts a close after the client has
// seen its answer.
func eventually(cond func() bool) bool {
	for range 200 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func TestSockets(t *testing.T) {
	fake := &fakeRealtime{}
	url := fake.start(t)
	code, res := loadSockets(t, url, "--hold", "100ms")
	if code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	h := res.Handshakes
	if h.Count != 50 || h.Errors != 0 || h.StoppedBy != "requests" || h.Status["101"] != 50 || len(h.Status) != 1 {
		t.Errorf("handshakes = %+v, want 50 answered 101", h)
	}
	p := res.Pings
	if p.Count != 20 || p.Errors != 0 || p.StoppedBy != "requests" || p.Status["pong"] != 20 || len(p.Status) != 1 ||
		res.Bursts != 2 || res.BurstSize != 10 {
		t.Errorf("pings = %+v in %d bursts of %d, want 20 pongs in 2 bursts of 10", p, res.Bursts, res.BurstSize)
	}
	for _, l := range []latency{h.latency, p.latency} {
		if l.P50Ms <= 0 || l.P50Ms > l.P90Ms || l.P90Ms > l.P99Ms || l.P99Ms > l.MaxMs {
			t.Errorf("latency out of order: %+v", l)
		}
	}
	if res.SetupAccounts != 50 || res.SetupRate <= 0 || h.Rate <= 0 {
		t.Errorf("setup %d accounts at %v/s, handshakes %v/s", res.SetupAccounts, res.SetupRate, h.Rate)
	}
	if res.PeakOpen != 50 || res.OpenAtClose != 50 || res.Dropped != 0 || res.CloseErrors != 0 || res.HoldSec < 0.1 {
		t.Errorf("got peak %d, %d open at close after %vs, %d dropped, %d close errors; want 50, 50 after 0.1s, 0, 0",
			res.PeakOpen, res.OpenAtClose, res.HoldSec, res.Dropped, res.CloseErrors)
	}
	if res.ServerMemory != nil || len(res.ErrorExamples) != 0 {
		t.Errorf("server memory %+v, errors %q; want neither", res.ServerMemory, res.ErrorExamples)
	}

	fake.mu.Lock()
	devices, sources := len(fake.devices), slices.Sorted(maps.Keys(fake.sources))
	fake.mu.Unlock()
	if devices != 50 || fake.sockets.Load() != 50 {
		t.Errorf("server saw %d devices and %d sockets, want 50 each", devices, fake.sockets.Load())
	}
	if want := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}; !slices.Equal(sources, want) {
		t.Errorf("sockets came from %q, want %q", sources, want)
	}
	if fake.pongs.Load() == 0 {
		t.Error("the client never answered the server's websocket pings")
	}
	if !eventually(func() bool { return fake.closes.Load() == 50 }) {
		t.Errorf("server got %d normal close frames, want 50", fake.closes.Load())
	}
}

func TestSocketsServerMemory(t *testing.T) {
	url := (&fakeRealtime{}).start(t)
	// The fake server runs in this process, so its memory is this process's.
	code, res := loadSockets(t, url, "--server-pid", strconv.Itoa(os.Getpid()), "--ping-bursts", "0")
	m := res.ServerMemory
	if code != 0 || m == nil {
		t.Fatalf("exit %d, server memory %+v", code, m)
	}
	if m.PID != os.Getpid() || m.BeforeKiB <= 0 || m.OpenKiB <= 0 || m.AfterPingsKiB <= 0 {
		t.Errorf("server memory = %+v, want three readings", m)
	}
	if want := float64(m.OpenKiB-m.BeforeKiB) / 50; m.KiBPerSocket != want {
		t.Errorf("KiB per socket = %v, want %v", m.KiBPerSocket, want)
	}
	if res.Pings.Count != 0 || res.Pings.StoppedBy != "not run" || res.Bursts != 0 {
		t.Errorf("pings = %+v with --ping-bursts 0", res.Pings)
	}
}

func TestSocketsFailures(t *testing.T) {
	t.Run("refused token", func(t *testing.T) {
		url := (&fakeRealtime{refuse: true}).start(t)
		code, res := loadSockets(t, url, "--sockets", "20")
		if code != 1 || res.Handshakes.Errors != 20 || res.Handshakes.Status["401"] != 20 || res.PeakOpen != 0 {
			t.Fatalf("exit %d, result %+v; want 1 with 20 handshakes refused with 401", code, res)
		}
		if want := []string{"handshake: HTTP 401 Auth token invalid"}; !slices.Equal(res.ErrorExamples, want) {
			t.Errorf("error examples = %q, want %q", res.ErrorExamples, want)
		}
		if res.Pings.Count != 0 {
			t.Errorf("pings = %+v with no socket open", res.Pings)
		}
	})
	t.Run("no pong", func(t *testing.T) {
		url := (&fakeRealtime{silent: true}).start(t)
		code, res := loadSockets(t, url, "--sockets", "5", "--ping-bursts", "1", "--burst-size", "5", "--timeout", "200ms")
		if code != 1 || res.Handshakes.Errors != 0 || res.Pings.Errors != 5 || res.Pings.Status["timeout"] != 5 {
			t.Fatalf("exit %d, result %+v; want 1 with 5 ping timeouts", code, res)
		}
		if want := []string{"ping timeout: no pong within 200ms"}; !slices.Equal(res.ErrorExamples, want) {
			t.Errorf("error examples = %q, want %q", res.ErrorExamples, want)
		}
	})
	t.Run("server hangs up", func(t *testing.T) {
		url := (&fakeRealtime{hangUp: true}).start(t)
		code, res := loadSockets(t, url, "--sockets", "10", "--ping-bursts", "0", "--hold", "50ms")
		if code != 1 || res.Handshakes.Errors != 0 || res.Dropped != 10 || res.OpenAtClose != 0 {
			t.Fatalf("exit %d, result %+v; want 1 with 10 sockets dropped", code, res)
		}
		if len(res.ErrorExamples) == 0 || !strings.HasPrefix(res.ErrorExamples[0], "dropped by the server: ") {
			t.Errorf("error examples = %q", res.ErrorExamples)
		}
	})
	t.Run("setup", func(t *testing.T) {
		url := (&fakeRealtime{}).start(t)
		code, _ := loadSockets(t, url, "--server-key", "wrongkey")
		if code != 1 {
			t.Fatalf("exit %d, want 1 when setup fails", code)
		}
	})
}

// flagCase is a flag a scenario refuses and what the refusal says.
type flagCase struct {
	name string
	args []string
	want string // in stderr
}

// runFlagCases runs scenario with each case's flags, wanting exit status 2, nothing on stdout and the
// case's message on stderr. A case for a count over this process's open-file limit is added with
// countFlag, when there is such a limit.
func runFlagCases(t *testing.T, scenario, countFlag string, tests []flagCase) {
	t.Helper()
	if limit, err := openFileLimit(); err == nil && limit < maxSockets {
		over := strconv.FormatUint(limit-spareFiles+1, 10)
		tests = append(tests, flagCase{"over the open-file limit", []string{countFlag, over}, "open files"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"--url", "http://127.0.0.1:1", "--scenario", scenario}, tt.args...)
			code := run(context.Background(), args, &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), tt.want) || out.Len() != 0 {
				t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 2 and %q", args, code, out.String(), errOut.String(), tt.want)
			}
		})
	}
}

func TestSocketsFlags(t *testing.T) {
	runFlagCases(t, "sockets", "--sockets", []flagCase{
		{"non-loopback url", []string{"--url", "http://192.0.2.1:7350"}, "loopback"},
		{"no sockets", []string{"--sockets", "0"}, "--sockets must be"},
		{"too many sockets", []string{"--sockets", "2000000"}, "--sockets must be"},
		{"not a number", []string{"--sockets", "many"}, "invalid value"},
		{"dial concurrency", []string{"--dial-concurrency", "0"}, "--dial-concurrency"},
		{"negative bursts", []string{"--ping-bursts", "-1"}, "--ping-bursts"},
		{"empty burst", []string{"--burst-size", "0"}, "--burst-size"},
		{"negative hold", []string{"--hold", "-1s"}, "--hold"},
		{"negative source ips", []string{"--source-ips", "-1"}, "--source-ips"},
		{"too many source ips", []string{"--source-ips", "65535"}, "--source-ips"},
		{"source ips with ipv6", []string{"--url", "http://[::1]:7350"}, "--source-ips 0"},
		{"negative pid", []string{"--server-pid", "-1"}, "--server-pid"},
		{"no such pid", []string{"--server-pid", "2147483647"}, "--server-pid 2147483647"},
	})
	t.Run("ipv6 without source ips", func(t *testing.T) {
		o := options{url: "http://[::1]:7350", scenario: "sockets", concurrency: 1, requests: 1, pool: 1,
			duration: time.Second, timeout: time.Second, setupTimeout: time.Second,
			sock: socketOptions{count: 1, dialConcurrency: 1, burstSize: 1}}
		if err := o.validate(); err != nil {
			t.Errorf("validate = %v, want ok", err)
		}
	})
	t.Run("http scenarios ignore them", func(t *testing.T) {
		if _, err := parseFlags([]string{"--scenario", "auth-new", "--sockets", "0", "--hold", "-1s"}, io.Discard); err != nil {
			t.Errorf("parseFlags = %v, want ok", err)
		}
	})
}

func TestReadRSS(t *testing.T) {
	kib, err := readRSS(os.Getpid())
	if err != nil || kib <= 0 {
		t.Fatalf("readRSS(self) = %d, %v", kib, err)
	}
}

func TestParseReply(t *testing.T) {
	at := time.Unix(1, 0)
	tests := []struct {
		frame   string
		ok      bool
		cid     string
		errKind string // "" for a pong
	}{
		{`{"cid":"7","pong":{}}`, true, "7", ""},
		{`{"cid":"7","error":{"code":3,"message":"bad"}}`, true, "7", "error answer"},
		{`{"cid":"7","status":{}}`, true, "7", "bad answer"},
		{`{"notifications":{}}`, false, "", ""},
		{`not json`, true, "", "bad answer"},
	}
	for _, tt := range tests {
		r, ok := parseReply([]byte(tt.frame), at)
		if ok != tt.ok || r.cid != tt.cid {
			t.Errorf("parseReply(%s) = %+v, %v; want cid %q, %v", tt.frame, r, ok, tt.cid, tt.ok)
			continue
		}
		var kind string
		var pe *pingError
		if errors.As(r.err, &pe) {
			kind = pe.kind
		} else if r.err != nil {
			kind = fmt.Sprintf("%T", r.err)
		}
		if kind != tt.errKind || (ok && kind == "" && !r.at.Equal(at)) {
			t.Errorf("parseReply(%s) = %+v, want error kind %q", tt.frame, r, tt.errKind)
		}
	}
}

func TestSourceIP(t *testing.T) {
	for i, want := range map[int]string{0: "127.0.0.2", 253: "127.0.0.255", 254: "127.0.1.0", maxSourceIPs - 1: "127.0.255.255"} {
		if got := sourceIP(i).String(); got != want {
			t.Errorf("sourceIP(%d) = %s, want %s", i, got, want)
		}
	}
}
