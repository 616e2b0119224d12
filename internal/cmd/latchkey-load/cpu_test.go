package main

import (
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name may hold spaces and parentheses; the fields after it are counted from its last ')'.
	line := "4242 (a) (b c) S 17 4242 4242 0 -1 4194560 6131 53635 0 8 250 70 38 7 20 0 1 0 999190 5124096 1007 18446744073709551615 0 0 0\n"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{comm: "a) (b c", ppid: 17, ticks: 320, start: 999190}); st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "4242 no parentheses S 1 2 3", "4242 (x) S 1 2", "4242 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if st, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) = %+v, want an error", bad, st)
		}
	}
}

func TestFromTicks(t *testing.T) {
	hz := clockTicks()
	if hz == 0 {
		t.Fatal("clockTicks() = 0")
	}
	if got := fromTicks(3 * hz / 2); got != 1500*time.Millisecond {
		t.Errorf("fromTicks(1.5 s at %d Hz) = %v, want 1.5s", hz, got)
	}
}

func TestDBDelta(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	a := map[procKey]time.Duration{
		{1, 100}: ms(500), // runs throughout
		{2, 100}: ms(50),  // ends during the phase: its time is lost
		{3, 100}: ms(70),  // ends, and a new process takes its pid
	}
	b := map[procKey]time.Duration{
		{1, 100}: ms(800),
		{3, 900}: ms(20), // the new process with pid 3: all of its time counts
		{4, 950}: ms(5),  // started during the phase
	}
	d, started, exited := dbDelta(a, b)
	if d != ms(325) || started != 2 || exited != 2 {
		t.Errorf("dbDelta = %v, %d started, %d exited; want 325ms, 2, 2", d, started, exited)
	}
}

func TestCPUFiguresPerRequest(t *testing.T) {
	dur := func(ms int) *time.Duration { d := time.Duration(ms) * time.Millisecond; return &d }
	p := &cpuProbe{source: sourceSchedstat, server: 42, db: &procSet{roots: []int{7}}}
	a := cpuSample{server: dur(1000), db: map[procKey]time.Duration{{7, 1}: 0}, self: dur(10),
		machine: &machineTimes{busy: *dur(5000), irq: *dur(100), total: *dur(10000)}}
	b := cpuSample{server: dur(1500), db: map[procKey]time.Duration{{7, 1}: 300 * time.Millisecond}, self: dur(110),
		machine: &machineTimes{busy: *dur(6000), irq: *dur(130), total: *dur(12000)}}
	f, errs := p.figures(a, b, 1000)
	if len(errs) != 0 {
		t.Fatalf("errors %q", errs)
	}
	for name, c := range map[string]struct {
		got  *float64
		want float64
	}{
		"server": {f.ServerCPU, 500}, "db": {f.DBCPU, 300}, "total": {f.TotalCPU, 800}, "load": {f.LoadCPU, 100},
		"machine": {f.MachineCPU, 1000}, "irq": {f.IRQCPU, 30}, "other": {f.OtherCPU, 100}, "busy %": {f.MachineBusyPct, 50},
	} {
		if c.got == nil || *c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if f.CPU.ServerPID != 42 || f.CPU.DBProcesses != 1 || f.CPU.Source != "schedstat" {
		t.Errorf("report = %+v", f.CPU)
	}

	// No requests: no figure per request. A failed reading: no figure, and its error.
	f, _ = p.figures(a, b, 0)
	if f.ServerCPU != nil || f.TotalCPU != nil || f.LoadCPU != nil {
		t.Errorf("figures for 0 requests = %+v, want none", f)
	}
	b.server, b.errs = nil, []string{"server CPU time: gone"}
	f, errs = p.figures(a, b, 1000)
	if f.ServerCPU != nil || f.TotalCPU == nil || *f.TotalCPU != 300 || len(errs) != 1 {
		t.Errorf("figures with a failed server reading = %+v, errors %q; want the database's only, and the error", f, errs)
	}
}
