package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cpuOptions are the flags naming the processes whose CPU time the HTTP scenarios report.
type cpuOptions struct {
	serverPIDArg string
	dbPIDs       string
	dbMatch      string

	// Filled in by validate.
	serverPID int
	dbRoots   []int
}

func (c *cpuOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&c.serverPIDArg, "server-pid", "", "the server's process id, or auto: the process listening on --url's port (found in /proc). "+
		"The HTTP scenarios report its CPU time per measured request; sockets, its memory per socket")
	fs.StringVar(&c.dbPIDs, "db-pids", "", "(HTTP scenarios) comma-separated process ids of the database, such as PostgreSQL's postmaster: "+
		"the CPU time per measured request of these and every descendant (a PostgreSQL backend per connection) is reported")
	fs.StringVar(&c.dbMatch, "db-match", "", "(HTTP scenarios) like --db-pids, for every process named NAME (its /proc/PID/comm, "+
		"or its command's base name), such as postgres; it counts every such process on the machine")
}

// validate resolves --server-pid and --db-pids and checks that the processes exist; base is the checked
// --url ("" if it was refused).
func (c *cpuOptions) validate(base string) []error {
	var errs []error
	switch arg := c.serverPIDArg; arg {
	case "":
	case "auto":
		if base == "" {
			break
		}
		pid, err := listenerPID(base)
		if err != nil {
			errs = append(errs, fmt.Errorf("--server-pid auto: %v; give the process id", err))
		}
		c.serverPID = pid
	default:
		pid, err := strconv.Atoi(arg)
		if err != nil || pid < 1 {
			errs = append(errs, fmt.Errorf("--server-pid must be a positive process id or auto, got %q", arg))
			break
		}
		if _, err := readStat(pid); err != nil {
			errs = append(errs, fmt.Errorf("--server-pid %d: %v", pid, err))
		}
		c.serverPID = pid
	}
	if c.dbPIDs != "" {
		for _, s := range strings.Split(c.dbPIDs, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || pid < 1 {
				errs = append(errs, fmt.Errorf("--db-pids must be a comma-separated list of process ids, got %q", c.dbPIDs))
				break
			}
			if _, err := readStat(pid); err != nil {
				errs = append(errs, fmt.Errorf("--db-pids: process %d: %v", pid, err))
			}
			c.dbRoots = append(c.dbRoots, pid)
		}
	}
	if c.dbMatch != "" {
		set := procSet{name: c.dbMatch, exclude: []int{os.Getpid(), c.serverPID}}
		if procs, err := set.list(); err != nil {
			errs = append(errs, fmt.Errorf("--db-match: %v", err))
		} else if len(procs) == 0 {
			errs = append(errs, fmt.Errorf("--db-match %q: no process has that name", c.dbMatch))
		}
	}
	return errs
}

// cpuProbe reads, at the start and the end of a phase, the CPU time used by the server, the database
// processes, this tool and the machine as a whole.
type cpuProbe struct {
	source cpuSource
	server int      // 0: not measured
	db     *procSet // nil: not measured
}

func newCPUProbe(c cpuOptions) *cpuProbe {
	p := &cpuProbe{source: detectSource(), server: c.serverPID}
	if len(c.dbRoots) > 0 || c.dbMatch != "" {
		p.db = &procSet{roots: c.dbRoots, name: c.dbMatch, exclude: []int{os.Getpid(), c.serverPID}}
	}
	return p
}

// cpuSample is one reading. A reading that failed is nil (or, for db, the map is nil) and its error kept.
type cpuSample struct {
	server  *time.Duration
	db      map[procKey]time.Duration
	self    *time.Duration
	machine *machineTimes
	errs    []string
}

func (p *cpuProbe) sample() cpuSample {
	var s cpuSample
	if p.server != 0 {
		if d, err := p.source.processCPU(p.server); err != nil {
			s.errs = append(s.errs, fmt.Sprintf("server CPU time: %v", err))
		} else {
			s.server = &d
		}
	}
	if p.db != nil {
		procs, err := p.db.list()
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("database processes: %v", err))
		} else {
			s.db = make(map[procKey]time.Duration, len(procs))
			for k := range procs {
				// A process that ended since the listing is left out, as if listed a moment later.
				if d, err := p.source.processCPU(k.pid); err == nil {
					s.db[k] = d
				}
			}
		}
	}
	// This tool's and the machine's figures are context; where /proc cannot give them, they are left out.
	if d, err := p.source.processCPU(os.Getpid()); err == nil {
		s.self = &d
	}
	if m, err := machineCPU(); err == nil {
		s.machine = &m
	}
	return s
}

// cpuReport is the CPU time a phase used, in seconds, and what was measured; its JSON form is the "cpu"
// object of a result.
type cpuReport struct {
	Source         string  `json:"source"`
	ServerPID      int     `json:"server_pid,omitempty"`
	ServerSec      float64 `json:"server_s,omitempty"`
	DBSec          float64 `json:"db_s,omitempty"`
	DBProcesses    int     `json:"db_processes,omitempty"` // running at the end
	DBStarted      int     `json:"db_started,omitempty"`   // of those, started during the phase
	DBExited       int     `json:"db_exited,omitempty"`    // running at the start, gone at the end: their time is not counted
	LoadSec        float64 `json:"load_s"`
	MachineBusySec float64 `json:"machine_busy_s"`
	MachineIRQSec  float64 `json:"machine_irq_s"`
	MachineSec     float64 `json:"machine_s"` // every CPU's time, busy or idle
	CPUs           int     `json:"cpus"`
}

// cpuFigures are a phase's CPU times per measured request in microseconds; a figure that was not measured
// is nil. Its fields are part of the JSON of the result that embeds it.
type cpuFigures struct {
	ServerCPU      *float64   `json:"server_cpu_us_per_req,omitempty"`
	DBCPU          *float64   `json:"db_cpu_us_per_req,omitempty"`
	TotalCPU       *float64   `json:"total_cpu_us_per_req,omitempty"` // server and database together
	LoadCPU        *float64   `json:"load_cpu_us_per_req,omitempty"`
	MachineCPU     *float64   `json:"machine_cpu_us_per_req,omitempty"` // every busy CPU, whatever ran
	IRQCPU         *float64   `json:"irq_cpu_us_per_req,omitempty"`     // of the machine's, interrupts and softirqs
	OtherCPU       *float64   `json:"other_cpu_us_per_req,omitempty"`   // the machine's less the measured processes'
	MachineBusyPct *float64   `json:"machine_busy_pct,omitempty"`
	CPU            *cpuReport `json:"cpu,omitempty"`
}

// figures compares the readings a (at the start) and b (at the end) of a phase of n requests. It returns
// the errors of failed readings of the server and the database, which make the figures unusable.
func (p *cpuProbe) figures(a, b cpuSample, n int) (cpuFigures, []string) {
	errs := slices.Concat(a.errs, b.errs)
	rep := &cpuReport{Source: string(p.source), ServerPID: p.server, CPUs: runtime.NumCPU()}
	f := cpuFigures{CPU: rep}
	perReq := func(d time.Duration) *float64 {
		if n == 0 {
			return nil
		}
		v := float64(d.Nanoseconds()) / 1e3 / float64(n)
		return &v
	}
	var total time.Duration
	measured := false
	if a.server != nil && b.server != nil {
		d := max(*b.server-*a.server, 0)
		rep.ServerSec = d.Seconds()
		f.ServerCPU = perReq(d)
		total += d
		measured = true
	}
	if a.db != nil && b.db != nil {
		var d time.Duration
		d, rep.DBStarted, rep.DBExited = dbDelta(a.db, b.db)
		rep.DBProcesses = len(b.db)
		rep.DBSec = d.Seconds()
		f.DBCPU = perReq(d)
		total += d
		measured = true
	}
	if measured {
		f.TotalCPU = perReq(total)
	}
	if a.self != nil && b.self != nil {
		d := max(*b.self-*a.self, 0)
		rep.LoadSec = d.Seconds()
		f.LoadCPU = perReq(d)
	}
	if a.machine != nil && b.machine != nil {
		busy, irq := max(b.machine.busy-a.machine.busy, 0), max(b.machine.irq-a.machine.irq, 0)
		all := max(b.machine.total-a.machine.total, 0)
		rep.MachineBusySec, rep.MachineIRQSec, rep.MachineSec = busy.Seconds(), irq.Seconds(), all.Seconds()
		f.MachineCPU, f.IRQCPU = perReq(busy), perReq(irq)
		if a.self != nil && b.self != nil {
			// A softirq counts in the schedstat of the process it interrupted unless the kernel has
			// CONFIG_IRQ_TIME_ACCOUNTING, so irq is not taken away here: it may be in the processes' time.
			f.OtherCPU = perReq(busy - total - max(*b.self-*a.self, 0))
		}
		if all > 0 {
			pct := 100 * busy.Seconds() / all.Seconds()
			f.MachineBusyPct = &pct
		}
	}
	return f, errs
}

// dbDelta returns the CPU time the processes used between readings a and b: all of it for a process
// started since a, none for one ended since (/proc forgets it), and how many started and ended.
func dbDelta(a, b map[procKey]time.Duration) (d time.Duration, started, exited int) {
	for k, end := range b {
		begin, ok := a[k]
		if !ok {
			started++
		}
		d += max(end-begin, 0)
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			exited++
		}
	}
	return d, started, exited
}

// text writes the figures for the text report; nothing if no reading worked.
func (f cpuFigures) text(w io.Writer) {
	r := f.CPU
	if r == nil || f.LoadCPU == nil && f.TotalCPU == nil {
		return
	}
	us := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1fµs", *v)
	}
	var parts []string
	if f.ServerCPU != nil {
		parts = append(parts, "server "+us(f.ServerCPU))
	}
	if f.DBCPU != nil {
		parts = append(parts, "database "+us(f.DBCPU))
	}
	if f.TotalCPU != nil && f.ServerCPU != nil && f.DBCPU != nil {
		parts = append(parts, "both "+us(f.TotalCPU))
	}
	parts = append(parts, "load tool "+us(f.LoadCPU))
	machine := "machine " + us(f.MachineCPU)
	if f.OtherCPU != nil {
		machine += " (other processes " + us(f.OtherCPU) + "; interrupts " + us(f.IRQCPU) + ")"
	}
	if f.MachineBusyPct != nil {
		machine += fmt.Sprintf(", %.0f%% of %d CPUs busy", *f.MachineBusyPct, r.CPUs)
	}
	parts = append(parts, machine)
	fmt.Fprintf(w, "cpu/request  %s; from %s\n", strings.Join(parts, ", "), r.Source)
	if f.DBCPU != nil {
		fmt.Fprintf(w, "db processes %d at the end, %d of them started and %d ended during the phase (an ended one's time is not counted)\n",
			r.DBProcesses, r.DBStarted, r.DBExited)
	}
}
