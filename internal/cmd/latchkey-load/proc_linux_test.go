package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// burn keeps one goroutine busy for d of wall time.
func burn(d time.Duration) {
	x := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 10000 {
			x += i
		}
	}
	_ = x
}

func TestProcessCPU(t *testing.T) {
	pid := os.Getpid()
	read := func(s cpuSource) time.Duration {
		d, err := s.processCPU(pid)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return d
	}
	if detectSource() != sourceSchedstat {
		t.Log("this kernel has no schedstat; only stat is checked")
	}
	s0, t0 := read(sourceSchedstat), read(sourceStat)
	burn(300 * time.Millisecond)
	s1, t1 := read(sourceSchedstat), read(sourceStat)
	if detectSource() == sourceSchedstat {
		// The machine may be busy, so the goroutine may get less than all of the 300 ms.
		if d := s1 - s0; d < 30*time.Millisecond || d > 10*time.Second {
			t.Errorf("schedstat: %v of CPU for a 300 ms busy loop", d)
		}
		// Both count every thread; stat in clock ticks.
		if diff := (t1 - t0) - (s1 - s0); diff < -60*time.Millisecond || diff > 60*time.Millisecond {
			t.Errorf("stat says %v, schedstat %v", t1-t0, s1-s0)
		}
	} else if t1-t0 < 30*time.Millisecond {
		t.Errorf("stat: %v of CPU for a 300 ms busy loop", t1-t0)
	}
	if _, err := sourceSchedstat.processCPU(1 << 30); err == nil {
		t.Error("processCPU of a process that does not exist succeeded")
	}
}

func TestMachineCPU(t *testing.T) {
	m, err := machineCPU()
	if err != nil || m.busy <= 0 || m.irq < 0 || m.irq > m.busy || m.total < m.busy {
		t.Fatalf("machineCPU = %+v, %v", m, err)
	}
}

// child starts a sleeping child process and returns its pid.
func child(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

func TestProcSet(t *testing.T) {
	self, kid := os.Getpid(), child(t)
	pids := func(s procSet) map[int]string {
		t.Helper()
		m, err := s.list()
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]string{}
		for k, st := range m {
			out[k.pid] = st.comm
		}
		return out
	}
	// A child is picked with its parent, since a root brings its descendants.
	if got := pids(procSet{roots: []int{self}}); got[self] == "" || got[kid] != "sleep" {
		t.Errorf("roots [self] picked %v, want this process and its child %d", got, kid)
	}
	if got := pids(procSet{roots: []int{self}, exclude: []int{self}}); got[self] != "" || got[kid] != "sleep" {
		t.Errorf("roots [self] less self picked %v, want the child %d only of the two", got, kid)
	}
	if got := pids(procSet{name: "sleep"}); got[kid] != "sleep" || got[self] != "" {
		t.Errorf("name sleep picked %v, want the child %d and not this process", got, kid)
	}
	if got := pids(procSet{name: "no-such-command-name"}); len(got) != 0 {
		t.Errorf("an unknown name picked %v", got)
	}
}

func TestListenerPID(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(hs.Close)
	if pid, err := listenerPID(hs.URL); pid != os.Getpid() || err != nil {
		t.Errorf("listenerPID(%s) = %d, %v; want this process, %d", hs.URL, pid, err, os.Getpid())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := "http://" + ln.Addr().String()
	ln.Close()
	if pid, err := listenerPID(free); err == nil {
		t.Errorf("listenerPID(%s) = %d with nothing listening, want an error", free, pid)
	}
}

func TestLoadReportsCPU(t *testing.T) {
	url := newServer(t)
	kid := child(t)
	// The server runs in this process, which --server-pid auto finds listening; the child stands in for
	// a database process that does nothing.
	code, res := load(t, url, "--scenario", "auth-existing", "--server-pid", "auto", "--db-pids", strconv.Itoa(kid))
	if code != 0 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	if res.CPU == nil || res.CPU.ServerPID != os.Getpid() || res.CPU.DBProcesses != 1 || res.CPU.Source == "" {
		t.Fatalf("cpu report = %+v", res.CPU)
	}
	if res.ServerCPU == nil || *res.ServerCPU <= 0 || res.DBCPU == nil || *res.DBCPU < 0 || res.LoadCPU == nil || *res.LoadCPU <= 0 {
		t.Fatalf("cpu figures = server %v, db %v, load %v", res.ServerCPU, res.DBCPU, res.LoadCPU)
	}
	if res.TotalCPU == nil || *res.TotalCPU != *res.ServerCPU+*res.DBCPU {
		t.Errorf("total = %v, want server + db = %v", *res.TotalCPU, *res.ServerCPU+*res.DBCPU)
	}
	if res.MachineCPU == nil || res.MachineBusyPct == nil {
		t.Errorf("machine figures missing: %v, %v", res.MachineCPU, res.MachineBusyPct)
	}

	var out, errOut bytes.Buffer
	args := []string{"--url", url, "--scenario", "get-account", "--concurrency", "2", "--requests", "50", "--warmup", "0",
		"--pool", "5", "--server-pid", strconv.Itoa(os.Getpid()), "--db-match", "sleep"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"cpu/request  server ", ", database ", ", both ", "load tool ", "db processes "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report has no %q:\n%s", want, out.String())
		}
	}
}

func TestCPUFlags(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := "http://" + ln.Addr().String()
	ln.Close()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--server-pid", "abc"}, "--server-pid must be a positive process id or auto"},
		{[]string{"--server-pid", "0"}, "--server-pid must be a positive process id or auto"},
		{[]string{"--server-pid", "2147483647"}, "--server-pid 2147483647"},
		{[]string{"--server-pid", "auto"}, "--server-pid auto: nothing listens on TCP port"},
		{[]string{"--db-pids", "1,x"}, "--db-pids must be a comma-separated list"},
		{[]string{"--db-pids", "2147483647"}, "--db-pids: process 2147483647"},
		{[]string{"--db-match", "no-such-command-name"}, `--db-match "no-such-command-name": no process has that name`},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"--url", free, "--scenario", "auth-new"}, tt.args...)
		if code := run(context.Background(), args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", args, code, errOut.String(), tt.want)
		}
	}
}
