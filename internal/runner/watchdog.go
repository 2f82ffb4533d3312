package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

var errNoRows = sql.ErrNoRows

// watchdog watches the sessions of one target for a stalled path: a
// connection waiting for the server that has received no byte for the
// stall bound. Keepalives and tcp_user_timeout catch a dead peer, but not a
// middlebox (a proxy, a NAT box, a pooler) that keeps acknowledging while
// passing nothing. The watchdog then asks the server, over a second short
// connection, what the backend is doing: a backend still running a
// statement is a long statement, and the wait goes on; one waiting on its
// client (idle in transaction, or blocked writing to it), gone, or a server
// that does not answer within the connect timeout means the path stalled:
// the backend is terminated when the probe reached the server (its locks
// end with it), the target's work is cancelled with a *StallError and the
// connection closed.
type watchdog struct {
	r      *Runner
	ctx    context.Context
	t      fleet.Target
	stall  time.Duration
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	sessions map[*session]time.Time // session -> when a probe last said it is busy
	stop     chan struct{}
	done     chan struct{}
}

type watchdogKey struct{}

// deadlineKey holds the target's whole budget's end: read-backs after the
// work stop there too.
type deadlineKey struct{}

// watchTarget starts the watchdog of t on ctx. The returned context is
// cancelled, with a *StallError as its cause, when a path stalls; stop
// ends the watchdog.
func (r *Runner) watchTarget(ctx context.Context, t fleet.Target) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{r: r, ctx: ctx, t: t, stall: sessionOptions(r.settings, "", false).Stall(), cancel: cancel,
		sessions: map[*session]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return context.WithValue(ctx, watchdogKey{}, w), func() {
		close(w.stop)
		<-w.done
		cancel(nil)
	}
}

// watch puts sess under the watchdog of ctx's target, if any.
func watch(ctx context.Context, sess *session) {
	w, _ := ctx.Value(watchdogKey{}).(*watchdog)
	if w == nil {
		return
	}
	w.mu.Lock()
	w.sessions[sess] = time.Time{}
	w.mu.Unlock()
	sess.watcher = w
}

// unwatch takes sess off its watchdog.
func (s *session) unwatch() {
	if w := s.watcher; w != nil {
		w.mu.Lock()
		delete(w.sessions, s)
		w.mu.Unlock()
		s.watcher = nil
	}
}

func (w *watchdog) loop() {
	defer close(w.done)
	tick := time.NewTicker(min(w.stall/4, time.Second))
	defer tick.Stop()
	var budgetEnd <-chan time.Time
	if end, ok := w.ctx.Value(deadlineKey{}).(time.Time); ok {
		// A cancel request that cannot reach the server leaves a query
		// waiting: shortly before the target's budget ends, close what
		// still waits, so the target is reported within its budget.
		t := time.NewTimer(time.Until(end) - min(500*time.Millisecond, time.Until(end)/10))
		defer t.Stop()
		budgetEnd = t.C
	}
	for {
		select {
		case <-w.stop:
			return
		case now := <-tick.C:
			w.check(now)
		case now := <-budgetEnd:
			w.mu.Lock()
			for s := range w.sessions {
				if s.meter.Silent(now) > 0 {
					s.meter.Sever()
				}
			}
			w.mu.Unlock()
		}
	}
}

// check probes every session silent for the stall bound, at most once per
// stall bound each.
func (w *watchdog) check(now time.Time) {
	w.mu.Lock()
	var due []*session
	for s, busy := range w.sessions {
		silent := s.meter.Silent(now)
		if silent >= w.stall && now.Sub(busy) >= w.stall {
			due = append(due, s)
		}
	}
	w.mu.Unlock()
	for _, s := range due {
		state, reached, err := w.r.probe(w.t, s.pid.Load(), min(w.r.settings.ConnectBound(), w.stall))
		if err == nil && state == "active" {
			w.mu.Lock()
			if _, ok := w.sessions[s]; ok {
				w.sessions[s] = time.Now()
			}
			w.mu.Unlock()
			continue
		}
		se := &StallError{Silent: s.meter.Silent(time.Now()), State: state, Terminated: reached && state != "gone"}
		if err != nil {
			se.State = "unknown: the probe got no answer (" + w.t.Scrub(err.Error()) + ")"
		}
		w.r.log.Warn("connection stalled", "target", w.t.Name, "backend", s.pid.Load(), "state", se.State)
		w.cancel(se)
		s.meter.Sever()
		return
	}
}

// probe asks t's server, over a connection of its own, what backend pid is
// doing; a backend waiting on its client is terminated. state is
// pg_stat_activity's state ("active" only for a backend working on a
// statement, not one blocked sending to its client), or "gone". reached
// says the server answered.
func (r *Runner) probe(t fleet.Target, pid uint32, timeout time.Duration) (state string, reached bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	s := r.settings
	s.ConnectTimeout = timeout
	sess, err := connectAs(ctx, t, s, true, AppName("probe:"+t.Name))
	if err != nil {
		return "", false, err
	}
	defer sess.discard()
	var st, wait string
	var found bool
	err = sess.conn.QueryRowContext(ctx, `SELECT coalesce(state, ''), coalesce(wait_event, ''), true
FROM pg_catalog.pg_stat_activity WHERE pid = $1`, int64(pid)).Scan(&st, &wait, &found)
	switch {
	case errors.Is(err, errNoRows):
		return "gone", true, nil
	case err != nil:
		return "", false, err
	case st == "active" && wait != "ClientWrite":
		return "active", true, nil
	}
	if st == "active" {
		st = "blocked sending to its client"
	}
	_, _ = sess.conn.ExecContext(ctx, "SELECT pg_terminate_backend($1)", int64(pid))
	return st, true, nil
}

// budgeted is a context detached from cancellation, for work after the
// target's own (reading the version back), that still ends by d or by the
// end of the target's whole budget, whichever comes first.
func budgeted(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	dctx := context.WithoutCancel(ctx)
	if end, ok := ctx.Value(deadlineKey{}).(time.Time); ok && time.Until(end) < d {
		return context.WithDeadlineCause(dctx, end, fmt.Errorf("target timeout exceeded while reading the version back: %w", context.DeadlineExceeded))
	}
	return context.WithTimeout(dctx, d)
}
