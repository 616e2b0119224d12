package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// The suite reads the Sockets contract as follows, beyond what storage.go spells out:
//   - a socket is not tied to an account, a session or a node row: AddSocket accepts ids that name none,
//     and a socket whose node has never been touched is registered but not alive;
//   - UserSockets orders sockets created at the same millisecond by id;
//   - TouchNode sets the node's seen time to t, whatever it was;
//   - RemoveDeadNodes(t) keeps a node seen at exactly t; it also removes the sockets created before t on
//     nodes that have no row at all, which a node removed as dead may have left behind;
//   - SocketCommandsSince with a limit below 1 returns nothing, as RevocationsSince does;
//   - DeleteSocketCommandsBefore(t) keeps a command at exactly t;
//   - empty SocketID and UserID are stored and read back as empty.

// Nodes of the socket tests.
const (
	nodeA = "node-a"
	nodeB = "node-b"
	nodeC = "node-c"
)

// checkSockets compares sockets in order.
func checkSockets(t *testing.T, what string, got, want []storage.Socket) {
	t.Helper()
	checkList(t, what, got, want, func(i int, g, w storage.Socket) {
		t.Helper()
		if g.ID != w.ID || g.UserID != w.UserID || g.SessionID != w.SessionID || g.Node != w.Node {
			t.Errorf("%s: socket %d:\n got %+v\nwant %+v", what, i, g, w)
		}
		checkTime(t, fmt.Sprintf("%s: socket %d CreateTime", what, i), g.CreateTime, w.CreateTime)
	})
}

// mustAddSocket registers a new socket of userID on node, created at created.
func mustAddSocket(t *testing.T, st storage.Store, userID, node string, created time.Time) storage.Socket {
	t.Helper()
	s := storage.Socket{ID: NewID(), UserID: userID, SessionID: NewID(), Node: node, CreateTime: created}
	if err := st.AddSocket(t.Context(), s); err != nil {
		t.Fatalf("AddSocket(%+v): %v", s, err)
	}
	return s
}

func mustTouchNode(t *testing.T, st storage.Store, node string, at time.Time) {
	t.Helper()
	if err := st.TouchNode(t.Context(), node, at); err != nil {
		t.Fatalf("TouchNode(%s): %v", node, err)
	}
}

func mustUserSockets(t *testing.T, st storage.Store, userID string, aliveSince time.Time) []storage.Socket {
	t.Helper()
	got, err := st.UserSockets(t.Context(), userID, aliveSince)
	if err != nil {
		t.Fatalf("UserSockets(%s): %v", userID, err)
	}
	return got
}

func testAddAndRemoveSockets(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u, v := NewID(), NewID()
	mustTouchNode(t, st, nodeA, base)
	mustTouchNode(t, st, nodeB, base)
	// Times with a sub-millisecond part, which a backend may drop, in base's non-UTC zone; added out of
	// creation order, with two at one millisecond, so that an order by insertion or by id alone would show.
	at := func(d time.Duration) time.Time { return base.Add(d + 123_456*time.Nanosecond) }
	newest := mustAddSocket(t, st, u, nodeA, at(2*time.Minute))
	oldest := mustAddSocket(t, st, u, nodeB, at(0))
	same1 := mustAddSocket(t, st, u, nodeA, at(time.Minute))
	same2 := mustAddSocket(t, st, u, nodeB, at(time.Minute))
	if same2.ID < same1.ID {
		same1, same2 = same2, same1
	}
	theirs := mustAddSocket(t, st, v, nodeA, at(time.Minute))

	checkSockets(t, "u's sockets", mustUserSockets(t, st, u, base), []storage.Socket{oldest, same1, same2, newest})
	checkSockets(t, "v's sockets", mustUserSockets(t, st, v, base), []storage.Socket{theirs})
	checkSockets(t, "an unknown user's sockets", mustUserSockets(t, st, NewID(), base), nil)

	if err := st.RemoveSocket(ctx, same1.ID); err != nil {
		t.Fatalf("RemoveSocket: %v", err)
	}
	checkSockets(t, "u's sockets after removing one", mustUserSockets(t, st, u, base), []storage.Socket{oldest, same2, newest})
	for _, id := range []string{same1.ID, NewID()} {
		if err := st.RemoveSocket(ctx, id); err != nil {
			t.Errorf("RemoveSocket(unknown %s) = %v, want nil", id, err)
		}
	}
	checkSockets(t, "v's sockets after removing u's", mustUserSockets(t, st, v, base), []storage.Socket{theirs})

	// A removed id can be registered again.
	again := storage.Socket{ID: same1.ID, UserID: v, SessionID: NewID(), Node: nodeB, CreateTime: at(3 * time.Minute)}
	if err := st.AddSocket(ctx, again); err != nil {
		t.Fatalf("AddSocket(removed id): %v", err)
	}
	checkSockets(t, "v's sockets after re-adding a removed id", mustUserSockets(t, st, v, base), []storage.Socket{theirs, again})
}

func testDuplicateSocket(t *testing.T, st storage.Store) {
	u := NewID()
	mustTouchNode(t, st, nodeA, base)
	first := mustAddSocket(t, st, u, nodeA, base)
	for _, dup := range []storage.Socket{
		first,
		{ID: first.ID, UserID: NewID(), SessionID: NewID(), Node: nodeB, CreateTime: base.Add(time.Minute)},
	} {
		checkErr(t, fmt.Sprintf("AddSocket(%+v) with a registered id", dup), st.AddSocket(t.Context(), dup), storage.ErrConflict)
	}
	checkSockets(t, "sockets after the clashes", mustUserSockets(t, st, u, base), []storage.Socket{first})
}

func testUserSocketsAliveSince(t *testing.T, st storage.Store) {
	u := NewID()
	mustTouchNode(t, st, nodeA, base)
	mustTouchNode(t, st, nodeB, base.Add(time.Minute))
	onA := mustAddSocket(t, st, u, nodeA, base)
	onB := mustAddSocket(t, st, u, nodeB, base.Add(time.Second))
	mustAddSocket(t, st, u, "node-never-seen", base.Add(2*time.Second))

	tests := []struct {
		name       string
		aliveSince time.Time
		want       []storage.Socket
	}{
		{"long ago", base.AddDate(-1, 0, 0), []storage.Socket{onA, onB}},
		{"at a's last sighting", base, []storage.Socket{onA, onB}},
		{"just after a's", base.Add(time.Millisecond), []storage.Socket{onB}},
		{"at b's", base.Add(time.Minute), []storage.Socket{onB}},
		{"after both", base.Add(time.Minute + time.Millisecond), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSockets(t, tt.name, mustUserSockets(t, st, u, tt.aliveSince), tt.want)
		})
	}
}

func testTouchNode(t *testing.T, st storage.Store) {
	u := NewID()
	s := mustAddSocket(t, st, u, nodeA, base)
	later := base.Add(time.Hour)
	checkSockets(t, "before the first touch", mustUserSockets(t, st, u, base.AddDate(-1, 0, 0)), nil)

	mustTouchNode(t, st, nodeA, base)
	checkSockets(t, "after the first touch", mustUserSockets(t, st, u, base), []storage.Socket{s})
	checkSockets(t, "after the first touch, alive since later", mustUserSockets(t, st, u, later), nil)

	// A second touch updates the same node rather than failing or adding another.
	mustTouchNode(t, st, nodeA, later)
	checkSockets(t, "after the second touch", mustUserSockets(t, st, u, later), []storage.Socket{s})
	if n, err := st.RemoveDeadNodes(t.Context(), later); err != nil || n != 0 {
		t.Errorf("RemoveDeadNodes(the second touch) = %d, %v; want 0", n, err)
	}
	if n, err := st.RemoveDeadNodes(t.Context(), later.Add(time.Millisecond)); err != nil || n != 1 {
		t.Errorf("RemoveDeadNodes(after the second touch) = %d, %v; want 1: the node has one row", n, err)
	}
}

func testRemoveNode(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u, v := NewID(), NewID()
	mustTouchNode(t, st, nodeA, base)
	mustTouchNode(t, st, nodeB, base)
	mustAddSocket(t, st, u, nodeA, base)
	mustAddSocket(t, st, v, nodeA, base)
	mustAddSocket(t, st, u, nodeA, base.Add(time.Second))
	onB := mustAddSocket(t, st, u, nodeB, base)

	n, err := st.RemoveNode(ctx, nodeA)
	if err != nil || n != 3 {
		t.Errorf("RemoveNode = %d, %v; want 3 sockets", n, err)
	}
	checkSockets(t, "u's sockets after removing node a", mustUserSockets(t, st, u, base), []storage.Socket{onB})
	// The node's sockets are gone, not merely hidden until it is seen again.
	mustTouchNode(t, st, nodeA, base)
	checkSockets(t, "u's sockets after node a is seen again", mustUserSockets(t, st, u, base), []storage.Socket{onB})
	checkSockets(t, "v's sockets after node a is seen again", mustUserSockets(t, st, v, base), nil)

	if n, err := st.RemoveNode(ctx, nodeA); err != nil || n != 0 {
		t.Errorf("RemoveNode(node without sockets) = %d, %v; want 0", n, err)
	}
	if n, err := st.RemoveNode(ctx, "node-unknown"); err != nil || n != 0 {
		t.Errorf("RemoveNode(unknown) = %d, %v; want 0", n, err)
	}
	// Removing node a a second time removed its row: a sweep has nothing to remove but node b.
	if n, err := st.RemoveDeadNodes(ctx, base.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("RemoveDeadNodes after RemoveNode = %d, %v; want 1 (node b)", n, err)
	}
}

func testRemoveDeadNodes(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := NewID()
	cut := base.Add(time.Hour)
	mustTouchNode(t, st, nodeA, cut.Add(-time.Millisecond))
	mustTouchNode(t, st, nodeB, cut) // not before the cut
	mustTouchNode(t, st, nodeC, cut.Add(time.Hour))
	mustTouchNode(t, st, "node-long-gone", base.AddDate(-1, 0, 0))
	mustAddSocket(t, st, u, nodeA, base)
	mustAddSocket(t, st, u, nodeA, cut.Add(time.Minute)) // created after the cut, on a dead node all the same
	onB := mustAddSocket(t, st, u, nodeB, base)
	onC := mustAddSocket(t, st, u, nodeC, base.Add(time.Second))
	// Sockets of a node that has no row: the old one is taken, the one created at the cut stays.
	mustAddSocket(t, st, u, "node-unseen", cut.Add(-time.Millisecond))
	unseen := mustAddSocket(t, st, u, "node-unseen", cut)

	n, err := st.RemoveDeadNodes(ctx, cut)
	if err != nil || n != 2 {
		t.Errorf("RemoveDeadNodes = %d, %v; want 2 nodes", n, err)
	}
	checkSockets(t, "sockets after the sweep", mustUserSockets(t, st, u, base.AddDate(-2, 0, 0)), []storage.Socket{onB, onC})

	// The dead nodes' sockets are gone, not merely hidden until they are seen again.
	for _, node := range []string{nodeA, "node-long-gone", "node-unseen"} {
		mustTouchNode(t, st, node, cut)
	}
	checkSockets(t, "sockets after the dead nodes are seen again", mustUserSockets(t, st, u, cut), []storage.Socket{onB, onC, unseen})

	if n, err := st.RemoveDeadNodes(ctx, cut); err != nil || n != 0 {
		t.Errorf("second RemoveDeadNodes = %d, %v; want 0", n, err)
	}
}

// checkSocketCommands compares socket commands in order.
func checkSocketCommands(t *testing.T, what string, got, want []storage.SocketCommand) {
	t.Helper()
	checkList(t, what, got, want, func(i int, g, w storage.SocketCommand) {
		t.Helper()
		if g.Seq != w.Seq || g.Kind != w.Kind || g.SocketID != w.SocketID || g.UserID != w.UserID || g.Reason != w.Reason {
			t.Errorf("%s: command %d:\n got %+v\nwant %+v", what, i, g, w)
		}
		checkTime(t, fmt.Sprintf("%s: command %d Time", what, i), g.Time, w.Time)
	})
}

// mustAppendSocketCommand appends c and returns it with the Seq it was given.
func mustAppendSocketCommand(t *testing.T, st storage.Store, c storage.SocketCommand) storage.SocketCommand {
	t.Helper()
	seq, err := st.AppendSocketCommand(t.Context(), c)
	if err != nil {
		t.Fatalf("AppendSocketCommand(%+v): %v", c, err)
	}
	c.Seq = seq
	return c
}

func mustLastSocketCommandSeq(t *testing.T, st storage.Store) int64 {
	t.Helper()
	seq, err := st.LastSocketCommandSeq(t.Context())
	if err != nil {
		t.Fatalf("LastSocketCommandSeq: %v", err)
	}
	return seq
}

func testSocketCommands(t *testing.T, st storage.Store) {
	ctx := t.Context()
	if seq := mustLastSocketCommandSeq(t, st); seq != 0 {
		t.Errorf("LastSocketCommandSeq of an empty feed = %d, want 0", seq)
	}
	if got, err := st.SocketCommandsSince(ctx, 0, 100); err != nil || len(got) != 0 {
		t.Errorf("SocketCommandsSince on an empty feed = %+v, %v; want none", got, err)
	}

	u := NewID()
	at := func(d time.Duration) time.Time { return base.Add(d + 123_456*time.Nanosecond) }
	cmds := []storage.SocketCommand{
		{Seq: 1 << 40, Kind: storage.SocketDisconnect, SocketID: NewID(), UserID: u, Reason: "runtime", Time: at(0)}, // Seq is ignored
		{Kind: storage.SocketSingle, SocketID: NewID(), UserID: u, Reason: "single_socket", Time: at(time.Minute)},
		{Kind: storage.SocketDisconnect, SocketID: NewID(), Time: at(2 * time.Minute)}, // no user, no reason
		{Kind: storage.SocketSingle, UserID: NewID(), Reason: "ünïcødé, 'quotes'", Time: at(-time.Hour)},
		{Kind: "future_kind", SocketID: NewID(), UserID: u, Time: at(3 * time.Minute)},
	}
	for i := range cmds {
		cmds[i] = mustAppendSocketCommand(t, st, cmds[i])
		if cmds[i].Seq <= 0 || (i > 0 && cmds[i].Seq <= cmds[i-1].Seq) {
			t.Errorf("command %d: seq %d, want positive and above the previous one", i, cmds[i].Seq)
		}
	}
	if seq := mustLastSocketCommandSeq(t, st); seq != cmds[4].Seq {
		t.Errorf("LastSocketCommandSeq = %d, want %d", seq, cmds[4].Seq)
	}

	tests := []struct {
		name  string
		after int64
		limit int
		want  []storage.SocketCommand
	}{
		{"all", 0, 100, cmds},
		{"after", cmds[1].Seq, 100, cmds[2:]},
		{"limit", 0, 2, cmds[:2]},
		{"after and limit", cmds[0].Seq, 3, cmds[1:4]},
		{"limit of one", cmds[3].Seq, 1, cmds[4:]},
		{"past the end", cmds[4].Seq, 100, nil},
		{"zero limit", 0, 0, nil},
		{"negative limit", 0, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.SocketCommandsSince(ctx, tt.after, tt.limit)
			if err != nil {
				t.Fatalf("SocketCommandsSince(%d, %d): %v", tt.after, tt.limit, err)
			}
			checkSocketCommands(t, tt.name, got, tt.want)
		})
	}
}

func testDeleteSocketCommandsBefore(t *testing.T, st storage.Store) {
	ctx := t.Context()
	cut := base.Add(time.Hour)
	cmd := func(at time.Time, reason string) storage.SocketCommand {
		return mustAppendSocketCommand(t, st, storage.SocketCommand{Kind: storage.SocketDisconnect, SocketID: NewID(), Time: at, Reason: reason})
	}
	// Appended out of time order, so that a sweep by seq rather than by time would show.
	after := cmd(cut.Add(time.Hour), "after")
	cmd(cut.Add(-time.Millisecond), "just before")
	atCut := cmd(cut, "at the cut")
	longBefore := cmd(base.AddDate(-1, 0, 0), "a year before")

	n, err := st.DeleteSocketCommandsBefore(ctx, cut)
	if err != nil || n != 2 {
		t.Errorf("DeleteSocketCommandsBefore = %d, %v; want 2", n, err)
	}
	got, err := st.SocketCommandsSince(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkSocketCommands(t, "feed after the sweep", got, []storage.SocketCommand{after, atCut})
	if n, err := st.DeleteSocketCommandsBefore(ctx, cut); err != nil || n != 0 {
		t.Errorf("second DeleteSocketCommandsBefore = %d, %v; want 0", n, err)
	}

	// Seqs are never reused, even after every command, the newest included, has been deleted.
	newest := longBefore.Seq
	if n, err := st.DeleteSocketCommandsBefore(ctx, cut.AddDate(1, 0, 0)); err != nil || n != 2 {
		t.Errorf("DeleteSocketCommandsBefore(everything) = %d, %v; want 2", n, err)
	}
	if seq := mustLastSocketCommandSeq(t, st); seq != newest {
		t.Errorf("LastSocketCommandSeq after deleting every command = %d, want %d", seq, newest)
	}
	if got, err := st.SocketCommandsSince(ctx, 0, 100); err != nil || len(got) != 0 {
		t.Errorf("feed after deleting every command = %+v, %v; want none", got, err)
	}
	last := cmd(base, "last")
	if last.Seq <= newest {
		t.Errorf("seq after deleting every command = %d, want above the deleted newest %d", last.Seq, newest)
	}
	if seq := mustLastSocketCommandSeq(t, st); seq != last.Seq {
		t.Errorf("LastSocketCommandSeq = %d, want %d", seq, last.Seq)
	}
}

// testConcurrentSocketCommands appends from racers goroutines at once while a follower reads the feed the
// way the nodes do, resuming after the highest seq it has read. Every command must reach the follower
// exactly once: were seqs handed out in call order rather than commit order, the follower could read a
// command before one with a smaller seq commits, and then never see the latter.
func testConcurrentSocketCommands(t *testing.T, st storage.Store) {
	ctx := t.Context()
	const (
		perRacer = 25
		page     = 7 // small, so that the follower pages while the racers append
	)
	done, followed := make(chan struct{}), make(chan struct{})
	var cmds []storage.SocketCommand
	var followErr error
	go func() {
		defer close(followed)
		cmds, followErr = Follow(done, func(c storage.SocketCommand) int64 { return c.Seq },
			func(after int64) ([]storage.SocketCommand, error) { return st.SocketCommandsSince(ctx, after, page) })
	}()

	seqs := make([][]int64, racers)
	errs := race(racers, func(i int) error {
		for j := range perRacer {
			seq, err := st.AppendSocketCommand(ctx, storage.SocketCommand{
				Kind: storage.SocketDisconnect, SocketID: NewID(), Reason: fmt.Sprintf("%d/%d", i, j), Time: base,
			})
			if err != nil {
				return err
			}
			seqs[i] = append(seqs[i], seq)
		}
		return nil
	})
	close(done)
	<-followed
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: AppendSocketCommand: %v", i, err)
		}
	}
	if followErr != nil {
		t.Fatalf("follower: %v", followErr)
	}

	// Each racer's appends committed one after the other, so their seqs increase.
	var all []int64
	for i, s := range seqs {
		for j := 1; j < len(s); j++ {
			if s[j] <= s[j-1] {
				t.Errorf("racer %d: append %d has seq %d after %d, want more", i, j, s[j], s[j-1])
			}
		}
		all = append(all, s...)
	}
	slices.Sort(all)
	read := make([]int64, len(cmds))
	for i, c := range cmds {
		read[i] = c.Seq
	}
	if len(all) != racers*perRacer {
		t.Errorf("%d commands appended, want %d", len(all), racers*perRacer)
	}
	if !slices.Equal(read, all) {
		missed := 0
		for _, seq := range all {
			if _, found := slices.BinarySearch(read, seq); !found {
				missed++
			}
		}
		t.Errorf("follower read %d commands, want the %d appended; it missed %d", len(read), len(all), missed)
	}
	if len(all) > 0 {
		if seq := mustLastSocketCommandSeq(t, st); seq != all[len(all)-1] {
			t.Errorf("LastSocketCommandSeq = %d, want the highest appended %d", seq, all[len(all)-1])
		}
	}
}
