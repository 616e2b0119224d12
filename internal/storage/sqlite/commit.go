package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// Group commit. SQLite has one writer per file, and on a busy server most of a write transaction's cost is
// its commit: every page the transaction changed is appended to the WAL, one write call each, and a
// table's or index's last page is written again by the next transaction that appends to it. So writes are
// not run one transaction each. A single goroutine, the committer, owns the write connection: it takes the
// operations waiting in its queue, runs them one after another in one transaction, each inside a savepoint
// of its own, commits once, and only then answers each caller. Each operation sees the ones before it in
// the batch as committed, so the result is the same as running them one by one in queue order; a page
// shared by the batch goes to the WAL once.
//
// Durability is unchanged: a caller is answered after the commit that holds its write has returned, as
// before (WAL with synchronous=NORMAL: a process crash, kill -9 included, loses nothing acknowledged).
//
// An operation that fails on its own (a constraint, a missing row, a lost compare-and-swap) leaves nothing
// behind and the batch goes on: most operations fail on their own only before they write or in the single
// statement that writes (which SQLite undoes by itself), and the others (writeAll) run inside a savepoint
// of their own, which is rolled back. Any other failure (a store fault, which may have rolled back the
// whole transaction) fails the batch: it is rolled back and every operation in it gets that error, so
// nothing is half-written. Operations run with the committer's context, never their caller's: SQLite
// answers an interrupted write inside a transaction by rolling back the whole transaction. A caller whose
// context ends while it waits gets the context's error; its operation is skipped if it has not started,
// and may still commit if it has, as when a connection is lost after the statement was sent.

// maxBatch bounds the operations in one transaction, so that one commit never holds many callers back.
const maxBatch = 64

// queueSize bounds the operations waiting for the committer; beyond it callers wait to enqueue, under
// their own deadline.
const queueSize = 1024

// batchTimeout bounds one batch's statements, the lock wait of the busy timeout included.
const batchTimeout = busyTimeout + 5*time.Second

// checkpointEvery is how often, at most, the committer resets the WAL, and checkpointWait how long it waits
// for readers to let it (see checkpoint).
const (
	checkpointEvery = 500 * time.Millisecond
	checkpointWait  = 20 * time.Millisecond
)

// writeOp is one queued operation: fn runs inside the batch's transaction; done receives its outcome once
// the batch has committed or failed.
type writeOp struct {
	ctx       context.Context
	savepoint bool // run inside a savepoint (see writeAll)
	fn        func(w *wtx) error
	done      chan error
}

// wtx is what an operation may use: the statements of the batch's transaction.
type wtx struct {
	ctx   context.Context
	tx    *sql.Tx
	s     *Store
	stmts [numStmts]*sql.Stmt // bound to tx on first use
}

// stmt returns statement id bound to the batch's transaction. The committer prepared every statement on
// the pool before the transaction began (preparing now would need a second connection of a pool that has
// one).
func (w *wtx) stmt(id stmtID) preparedStmt {
	if st := w.stmts[id]; st != nil {
		return preparedStmt{st: st}
	}
	st := w.s.write.stmts[id].Load()
	if st == nil {
		return preparedStmt{err: fmt.Errorf("statement %d is not prepared (is the schema migrated?)", id)}
	}
	w.stmts[id] = w.tx.StmtContext(w.ctx, st)
	return preparedStmt{st: w.stmts[id]}
}

// exec runs query (not a prepared statement: the text varies) in the batch's transaction.
func (w *wtx) exec(query string, args ...any) (sql.Result, error) {
	return w.tx.ExecContext(w.ctx, query, args...)
}

// committer is the store's single writer.
type committer struct {
	s     *Store
	queue chan *writeOp

	startOnce sync.Once
	closeOnce sync.Once
	stop      chan struct{} // closed by close
	stopped   chan struct{} // closed when run has returned (or at close, if it never started)

	// batches and ops count the transactions run and the operations they held (for tests and metrics).
	batches, ops atomic.Int64
	// checkpoints counts the WAL resets run (see checkpoint); lastCheckpoint is when the latest ran, in
	// Unix nanoseconds.
	checkpoints    atomic.Int64
	lastCheckpoint atomic.Int64
}

func newCommitter(s *Store) *committer {
	return &committer{s: s, queue: make(chan *writeOp, queueSize), stop: make(chan struct{}), stopped: make(chan struct{})}
}

// write runs fn in a write transaction shared with whatever other writes are waiting, and returns its
// error once the transaction has committed (or failed). Errors come back unwrapped, for the caller to
// classify and wrap. fn may fail on its own (see ownFailure) only before its first write or in the one
// statement that writes; otherwise use writeAll.
func (c *committer) write(ctx context.Context, fn func(w *wtx) error) error {
	return c.submit(ctx, false, fn)
}

// writeAll is write for an operation that may fail on its own after it has written: it runs inside a
// savepoint, which its failure rolls back.
func (c *committer) writeAll(ctx context.Context, fn func(w *wtx) error) error {
	return c.submit(ctx, true, fn)
}

func (c *committer) submit(ctx context.Context, savepoint bool, fn func(w *wtx) error) error {
	c.startOnce.Do(func() { go c.run() })
	select {
	case <-c.stop:
		return errClosed
	default:
	}
	op := &writeOp{ctx: ctx, savepoint: savepoint, fn: fn, done: make(chan error, 1)}
	select {
	case c.queue <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errClosed
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stopped:
		return errClosed
	}
}

var errClosed = errors.New("store closed")

// close stops the committer after the batch under way; operations still queued fail.
func (c *committer) close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		c.startOnce.Do(func() { close(c.stopped) }) // never started: nothing to wait for
		<-c.stopped
	})
}

func (c *committer) run() {
	defer close(c.stopped)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case <-c.stop:
			for {
				select {
				case op := <-c.queue:
					op.done <- errClosed
				default:
					return
				}
			}
		case op := <-c.queue:
			batch = append(batch[:0], op)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-c.queue:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		c.runBatch(batch)
		clear(batch)
		if time.Since(time.Unix(0, c.lastCheckpoint.Load())) >= checkpointEvery {
			c.checkpoint()
		}
	}
}

// checkpoint copies the WAL into the database file and starts the WAL over from its beginning. SQLite's
// own checkpoints, run at commit once the WAL passes 1000 pages, copy the pages but cannot start the WAL
// over while readers use it, and on a busy server some reader always does: the WAL then grows without end
// (200 MB in ten seconds of refreshes, measured), and every read searches a WAL index that grows with it.
// A RESTART checkpoint waits for the readers of the old WAL to finish (reads are single statements, so this
// is short), holding writes back meanwhile, so it waits checkpointWait at most: a reader that takes longer
// only makes it give up until the next time. Readers that start meanwhile read the database file. It runs
// between batches, at most every checkpointEvery; a failure is left to the next one, since the WAL stays
// correct whatever its length.
func (c *committer) checkpoint() {
	c.lastCheckpoint.Store(time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	conn, err := c.s.write.db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, checkpointWait.Milliseconds())); err != nil {
		return
	}
	var busy, logFrames, done int
	err = conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &done)
	if _, rerr := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeout.Milliseconds())); rerr != nil {
		// The connection would keep the short timeout: let the pool open a fresh one.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		return
	}
	if err == nil && busy == 0 {
		c.checkpoints.Add(1)
	}
}

// runBatch runs ops whose callers still wait in one transaction and answers each.
func (c *committer) runBatch(ops []*writeOp) {
	errs := make([]error, len(ops))
	run := make([]int, 0, len(ops))
	for i, op := range ops {
		if err := op.ctx.Err(); err != nil {
			errs[i] = err // its caller has gone: skip it
		} else {
			run = append(run, i)
		}
	}
	if len(run) > 0 {
		if err := c.transact(ops, run, errs); err != nil {
			for _, i := range run {
				errs[i] = err
			}
		}
		c.ops.Add(int64(len(run)))
		c.batches.Add(1)
	}
	for i, op := range ops {
		op.done <- errs[i]
	}
}

// transact runs ops[i] for each i in run in one transaction, recording each one's own failure in errs,
// and returns an error that fails the whole batch, if any.
func (c *committer) transact(ops []*writeOp, run []int, errs []error) error {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	s := c.s
	// Every statement is prepared on the pool before the transaction takes the pool's only connection (a
	// fault found here is the batch's; a missing table, before MigrateUp, is the concern of its users only).
	for id := range stmtID(numStmts) {
		if p := s.write.stmt(ctx, id); p.err != nil {
			if _, ok := fault(p.err); ok {
				return p.err
			}
		}
	}
	tx, err := s.write.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	w := &wtx{ctx: ctx, tx: tx, s: s}
	if len(run) == 1 {
		// Alone, an operation needs no savepoint: its failure rolls the transaction back.
		i := run[0]
		if errs[i] = ops[i].fn(w); errs[i] != nil {
			return nil
		}
		return tx.Commit()
	}
	for _, i := range run {
		op := ops[i]
		if op.savepoint {
			if _, err := w.stmt(qSavepoint).ExecContext(ctx); err != nil {
				return err
			}
		}
		err := op.fn(w)
		if err != nil && !ownFailure(err) {
			return err
		}
		errs[i] = err
		if !op.savepoint {
			continue
		}
		if err != nil {
			if _, err := w.stmt(qRollbackToSavepoint).ExecContext(ctx); err != nil {
				return err
			}
		}
		if _, err := w.stmt(qReleaseSavepoint).ExecContext(ctx); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ownFailure reports whether an operation's error is its own (the batch goes on without it) rather than a
// failure of the transaction.
func ownFailure(err error) bool {
	if _, _, ok := constraint(err); ok {
		return true
	}
	for _, e := range []error{sql.ErrNoRows, storage.ErrNotFound, storage.ErrConflict, storage.ErrUsernameTaken,
		storage.ErrIdentityTaken, storage.ErrLastIdentity, errOwn} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// errOwn marks an error an operation returns about its own arguments (a value it cannot encode, say).
var errOwn = errors.New("invalid operation")
