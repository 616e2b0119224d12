package postgres_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

// The write benchmarks measure the hot paths of issue 13 ("writes as fast as reads") with parallel
// clients, and report, besides ns/op, the CPU the whole PostgreSQL cluster spent per operation as
// db-µs/op (see dbCPU). Run them against a throwaway cluster on this machine:
//
//	LATCHKEY_TEST_POSTGRES=$(scripts/pg-cluster start /tmp/pgbench) \
//		go test -run '^$' -bench . -benchtime 20000x ./internal/storage/postgres/

// benchParallelism is the number of clients per GOMAXPROCS, enough to keep a few backends busy while the
// others wait for the network.
const benchParallelism = 4

// BenchmarkCreateUser measures creating a device account, the write of a first login.
func BenchmarkCreateUser(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	warmUp(b, st)
	var n atomic.Int64
	run(b, st, func() error {
		i := n.Add(1)
		_, err := st.CreateUser(ctx, storage.NewUser{
			ID: storagetest.NewID(), Username: fmt.Sprintf("bench-%d", i), Kind: storage.IdentityDevice,
			Identity: fmt.Sprintf("bench-device-%d", i), Time: base,
		})
		return err
	})
}

// BenchmarkStartSession measures a login's writes: the session, the cap (100 live sessions, the default
// of session.max_sessions_per_user) and the session_created event, spread over 1000 accounts.
func BenchmarkStartSession(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	users := benchUsers(b, st, 1000)
	warmUp(b, st)
	var n atomic.Int64
	run(b, st, func() error {
		u := users[n.Add(1)%int64(len(users))]
		s := storage.Session{ID: storagetest.NewID(), UserID: u, CreateTime: base, RefreshTime: base,
			ExpireTime: base.Add(time.Hour), UserAgent: "bench/1.0", ClientIP: "192.0.2.1"}
		_, _, err := st.StartSession(ctx, storage.SessionStart{
			Session: s, MaxLive: 100, CapReason: "session cap",
			Events:   []storage.Event{{Time: base, Kind: storage.EventSessionCreated, UserID: u, SessionID: s.ID, ClientIP: s.ClientIP}},
			CapEvent: storage.Event{Time: base, Kind: storage.EventSessionRevoked, UserID: u, ClientIP: s.ClientIP, Reason: "session cap"},
		})
		return err
	})
}

// BenchmarkStartSessionCapped measures logins that each end the account's oldest session: every account
// is at its cap of 5 live sessions.
func BenchmarkStartSessionCapped(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	users := benchUsers(b, st, 200)
	for _, u := range users {
		for range 5 {
			mustSession(b, st, u)
		}
	}
	warmUp(b, st)
	var n atomic.Int64
	run(b, st, func() error {
		i := n.Add(1)
		u := users[i%int64(len(users))]
		at := base.Add(time.Duration(i) * time.Millisecond)
		s := storage.Session{ID: storagetest.NewID(), UserID: u, CreateTime: at, RefreshTime: at, ExpireTime: at.Add(time.Hour)}
		_, _, err := st.StartSession(ctx, storage.SessionStart{
			Session: s, MaxLive: 5, CapReason: "session cap",
			Events:   []storage.Event{{Time: at, Kind: storage.EventSessionCreated, UserID: u, SessionID: s.ID}},
			CapEvent: storage.Event{Time: at, Kind: storage.EventSessionRevoked, UserID: u, Reason: "session cap"},
		})
		return err
	})
}

// BenchmarkRefreshSession measures the compare-and-swap of a refresh with rotation, on 1000 sessions.
func BenchmarkRefreshSession(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	users := benchUsers(b, st, 100)
	type slot struct {
		id   string
		seq  atomic.Int64
		busy atomic.Bool // one refresh of a session at a time, so that every compare-and-swap succeeds
	}
	slots := make([]slot, 1000)
	for i := range slots {
		slots[i].id = mustSession(b, st, users[i%len(users)]).ID
	}
	warmUp(b, st)
	var n atomic.Int64
	run(b, st, func() error {
		for {
			i := n.Add(1)
			sl := &slots[i%int64(len(slots))]
			if !sl.busy.CompareAndSwap(false, true) {
				continue
			}
			at := base.Add(time.Duration(i) * time.Millisecond)
			got, err := st.RefreshSession(ctx, storage.SessionRefresh{ID: sl.id, ExpectSeq: sl.seq.Load(),
				RefreshTime: at, ExpireTime: at.Add(2 * time.Hour), Vars: map[string]string{"k": "v"}})
			if err == nil {
				sl.seq.Store(got.RefreshSeq)
			}
			sl.busy.Store(false)
			return err
		}
	})
}

// BenchmarkSessionByID measures the session read of every refresh.
func BenchmarkSessionByID(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	users := benchUsers(b, st, 100)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = mustSession(b, st, users[i%len(users)]).ID
	}
	warmUp(b, st)
	var n atomic.Int64
	run(b, st, func() error {
		_, err := st.SessionByID(ctx, ids[n.Add(1)%int64(len(ids))])
		return err
	})
}

// BenchmarkUserByDevice measures the account read of a device login.
func BenchmarkUserByDevice(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	users := benchUsers(b, st, 1000)
	var n atomic.Int64
	warmUp(b, st)
	run(b, st, func() error {
		i := n.Add(1) % int64(len(users))
		_, err := st.UserByIdentity(ctx, storage.IdentityDevice, "device-"+strconv.FormatInt(i, 10))
		return err
	})
}

// benchUsers creates n device accounts, whose devices are device-0 to device-<n-1>, and returns their ids.
func benchUsers(b *testing.B, st storage.Store, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		u, err := st.CreateUser(context.Background(), storage.NewUser{
			ID: storagetest.NewID(), Username: "user-" + strconv.Itoa(i), Kind: storage.IdentityDevice,
			Identity: "device-" + strconv.Itoa(i), Time: base,
		})
		if err != nil {
			b.Fatalf("CreateUser: %v", err)
		}
		ids[i] = u.ID
	}
	return ids
}

// warmUp opens the pool's connections before the measurement, so that connecting is not counted.
func warmUp(b *testing.B, st *postgres.Store) {
	b.Helper()
	ctx := context.Background()
	n := benchParallelism * runtime.GOMAXPROCS(0)
	conns := make([]*pgxpool.Conn, 0, n)
	for range n {
		c, err := st.Pool().Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
}

// run runs op from parallel clients and reports the database's CPU per operation.
func run(b *testing.B, st *postgres.Store, op func() error) {
	b.Helper()
	cpu := dbCPU(b, st)
	// The warmup runs op enough times on every connection for PostgreSQL to settle on the generic plans of
	// its prepared statements, as a long-running server's connections have.
	conns := benchParallelism * runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for range 20 {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.SetParallelism(benchParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	start := cpu()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if start >= 0 {
		b.ReportMetric(float64(cpu()-start)/float64(time.Microsecond)/float64(b.N), "db-µs/op")
	}
}

// dbCPU returns a function that reads the CPU time the store's PostgreSQL cluster has used so far, or -1
// when the cluster is not a process of this machine that it can read. The cluster is the postmaster, the
// parent of the backend serving the store, with every process it runs: the backends, the WAL writer, the
// checkpointer and the autovacuum workers, those that have exited included (the postmaster's cutime and
// cstime hold what its reaped children used). The backend is recognized by its process title, which names
// the database.
func dbCPU(b *testing.B, st *postgres.Store) func() time.Duration {
	b.Helper()
	var backend int
	var database string
	err := st.Pool().QueryRow(context.Background(), "SELECT pg_backend_pid(), current_database()").Scan(&backend, &database)
	if err != nil {
		b.Fatal(err)
	}
	none := func() time.Duration { return -1 }
	f, err := procStat(backend)
	title, _ := os.ReadFile("/proc/" + strconv.Itoa(backend) + "/cmdline")
	if err != nil || f.comm != "postgres" || !strings.Contains(string(title), " "+database+" ") {
		b.Logf("no db-µs/op: backend %d is not a process of this machine (%v)", backend, err)
		return none
	}
	postmaster := f.ppid
	return func() time.Duration {
		pm, err := procStat(postmaster)
		if err != nil {
			return -1
		}
		total := ticks(pm.cticks) + threadsCPU(postmaster, pm)
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == postmaster {
				continue
			}
			if p, err := procStat(pid); err == nil && p.ppid == postmaster {
				total += threadsCPU(pid, p)
			}
		}
		return total
	}
}

// stat is what dbCPU reads of /proc/PID/stat.
type stat struct {
	comm          string
	ppid          int
	ticks, cticks uint64 // utime+stime, and cutime+cstime of the reaped children
}

func procStat(pid int) (stat, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return stat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	// f[0] is field 3 (state): ppid is field 4, utime to cstime fields 14 to 17 (proc(5)).
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
	return stat{comm: s[open+1 : end], ppid: int(num(1)), ticks: num(11) + num(12), cticks: num(13) + num(14)}, nil
}

// threadsCPU returns the CPU time of process pid: the nanoseconds its threads have run, from their
// schedstat, or its utime+stime in clock ticks when the kernel does not fill schedstat in.
func threadsCPU(pid int, p stat) time.Duration {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	var ns time.Duration
	for _, t := range tasks {
		raw, err := os.ReadFile(dir + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(raw)); len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += time.Duration(v)
		}
	}
	if err != nil || ns == 0 {
		return ticks(p.ticks)
	}
	return ns
}

// ticks converts clock ticks (USER_HZ, 100 on every Linux platform today) to a duration.
func ticks(t uint64) time.Duration { return time.Duration(t) * (time.Second / 100) }
