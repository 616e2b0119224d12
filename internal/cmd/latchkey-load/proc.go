package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file reads processes and the machine from Linux's /proc: CPU times, parents, names, and which
// process listens on a port.

// procStat is what the tool reads from /proc/PID/stat.
type procStat struct {
	comm  string
	ppid  int
	ticks uint64 // utime + stime of every thread, living or exited, in clock ticks
	start uint64 // start time in clock ticks after boot: with the pid, it tells a process from a later one with the same pid
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(string(b))
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// parseStat parses a /proc/PID/stat line. The command name is in parentheses and may itself hold spaces
// and parentheses, so it ends at the last ')'.
func parseStat(s string) (procStat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("no command name in parentheses")
	}
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15 and starttime 22 (proc(5)).
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	var err error
	num := func(i int) uint64 {
		v, e := strconv.ParseUint(f[i], 10, 64)
		if e != nil {
			err = errors.Join(err, fmt.Errorf("field %d: %w", i+3, e))
		}
		return v
	}
	var st procStat
	st.comm = s[open+1 : end]
	st.ppid = int(num(1))
	st.ticks = num(11) + num(12)
	st.start = num(19)
	return st, err
}

// clockTicks returns the kernel's USER_HZ, the unit of the times in /proc/PID/stat and /proc/stat, read
// as sysconf(_SC_CLK_TCK) reads it, from this process's auxiliary vector (AT_CLKTCK); failing that, 100,
// which is its value on every architecture Linux runs on today.
var clockTicks = sync.OnceValue(func() uint64 {
	const atNull, atClkTck = 0, 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	// The vector is pairs of native words: a type, then its value.
	w := strconv.IntSize / 8
	word := func(b []byte) uint64 {
		if w == 8 {
			return binary.NativeEndian.Uint64(b)
		}
		return uint64(binary.NativeEndian.Uint32(b))
	}
	for i := 0; i+2*w <= len(b); i += 2 * w {
		switch k, v := word(b[i:]), word(b[i+w:]); {
		case k == atNull:
			return 100
		case k == atClkTck && v > 0:
			return v
		}
	}
	return 100
})

// fromTicks converts clock ticks to a duration.
func fromTicks(t uint64) time.Duration {
	hz := clockTicks()
	return time.Duration(t/hz)*time.Second + time.Duration(t%hz)*time.Second/time.Duration(hz)
}

// cpuSource is where a process's CPU time is read from.
type cpuSource string

const (
	// sourceSchedstat sums the nanoseconds each living thread has run, the first field of
	// /proc/PID/task/TID/schedstat (a process's own schedstat covers its main thread only). A thread that
	// has exited takes its time with it; Go servers and PostgreSQL backends hardly ever end a thread.
	sourceSchedstat cpuSource = "schedstat"
	// sourceStat is utime + stime of /proc/PID/stat, every thread's user and system time in clock ticks
	// (10 ms at 100 Hz), for kernels whose schedstat reads "0 0 0" (built without CONFIG_SCHED_INFO).
	sourceStat cpuSource = "stat"
)

// detectSource picks schedstat, which counts in nanoseconds, if this kernel fills it in, else stat.
func detectSource() cpuSource {
	if d, err := schedstatCPU(os.Getpid()); err == nil && d > 0 {
		return sourceSchedstat
	}
	return sourceStat
}

// processCPU returns the CPU time process pid has used, user and system together.
func (s cpuSource) processCPU(pid int) (time.Duration, error) {
	if s == sourceSchedstat {
		return schedstatCPU(pid)
	}
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return fromTicks(st.ticks), nil
}

// schedstatCPU sums the first schedstat field of every thread of process pid.
func schedstatCPU(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	threads, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var ns uint64
	read := 0
	for _, t := range threads {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended since the listing
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("%s/%s/schedstat is empty", dir, t.Name())
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %w", dir, t.Name(), err)
		}
		ns += v
		read++
	}
	if read == 0 {
		return 0, fmt.Errorf("process %d has no threads left", pid)
	}
	return time.Duration(ns), nil
}

// machineTimes are the times every CPU together has spent since boot, from the first line of /proc/stat.
type machineTimes struct {
	busy  time.Duration // anything but idle and waiting for I/O
	irq   time.Duration // of busy, serving interrupts and softirqs (such as loopback TCP's)
	total time.Duration
}

func machineCPU() (machineTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTimes{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	// cpu user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already in user.
	if len(f) < 9 || f[0] != "cpu" {
		return machineTimes{}, fmt.Errorf("unexpected first line %q in /proc/stat", line)
	}
	var sum, idle, irq uint64
	for i := 1; i <= 8; i++ {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return machineTimes{}, fmt.Errorf("/proc/stat: %w", err)
		}
		sum += v
		switch i {
		case 4, 5:
			idle += v
		case 6, 7:
			irq += v
		}
	}
	return machineTimes{busy: fromTicks(sum - idle), irq: fromTicks(irq), total: fromTicks(sum)}, nil
}

// procKey names one process over time: a pid reused by a later process gets a new key.
type procKey struct {
	pid   int
	start uint64
}

// processes lists every process that this user can see, with its stat.
func processes() (map[int]procStat, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	all := make(map[int]procStat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if st, err := readStat(pid); err == nil {
			all[pid] = st // one that ended since the listing is left out
		}
	}
	return all, nil
}

// procSet picks processes: roots and all their descendants, and every process whose name is name (its
// /proc/PID/comm, or the base name of its command when that is longer than comm's 15 bytes). Processes
// in exclude are never picked.
type procSet struct {
	roots   []int
	name    string
	exclude []int
}

// list returns the processes the set picks right now.
func (s procSet) list() (map[procKey]procStat, error) {
	all, err := processes()
	if err != nil {
		return nil, err
	}
	picked := map[procKey]procStat{}
	add := func(pid int) {
		if st, ok := all[pid]; ok && !slices.Contains(s.exclude, pid) {
			picked[procKey{pid, st.start}] = st
		}
	}
	if len(s.roots) > 0 {
		children := map[int][]int{}
		for pid, st := range all {
			children[st.ppid] = append(children[st.ppid], pid)
		}
		// Each pid enters the queue at most once, so the walk ends even if the parent links had a cycle.
		seen := map[int]bool{}
		var queue []int
		for _, r := range s.roots {
			if !seen[r] {
				seen[r] = true
				queue = append(queue, r)
			}
		}
		for len(queue) > 0 {
			pid := queue[0]
			queue = queue[1:]
			add(pid)
			for _, c := range children[pid] {
				if !seen[c] {
					seen[c] = true
					queue = append(queue, c)
				}
			}
		}
	}
	if s.name != "" {
		for pid, st := range all {
			if st.comm == s.name || (len(s.name) > 15 && strings.HasPrefix(s.name, st.comm) && commandName(pid) == s.name) {
				add(pid)
			}
		}
	}
	return picked, nil
}

// commandName returns the base name of process pid's command (the first word of /proc/PID/cmdline), or
// "" if it cannot be read.
func commandName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	arg0, _, _ := strings.Cut(string(b), "\x00")
	return filepath.Base(arg0)
}

// listenerPID returns the process that listens on the port of base (a checked --url): the listening TCP
// sockets on that port come from /proc/net/tcp and tcp6, and the process holding one from the socket
// links in /proc/PID/fd. Only processes whose descriptors this user may read are seen.
func listenerPID(base string) (int, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	want, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", port, err)
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue // no IPv6
		}
		for _, l := range listeningSockets(string(b), want) {
			inodes["socket:["+l+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on TCP port %d", want)
	}
	all, err := processes()
	if err != nil {
		return 0, err
	}
	var found []int
	for pid := range all {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // another user's, or ended
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + "/" + fd.Name()); err == nil && inodes[link] {
				found = append(found, pid)
				break
			}
		}
	}
	slices.Sort(found)
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("no process found holding the socket listening on port %d (run as its user or root)", want)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("processes %v all hold sockets listening on port %d", found, want)
}

// listeningSockets returns the inodes of the sockets in a /proc/net/tcp or tcp6 table that listen on port.
func listeningSockets(table string, port uint64) []string {
	var out []string
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
		if i == 0 || len(f) < 10 || f[3] != "0A" { // 0A is TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && p == port && f[9] != "0" {
			out = append(out, f[9])
		}
	}
	return out
}
