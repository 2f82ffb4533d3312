package integration

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// stallProxy is a TCP proxy between the tool and the test server that can
// stop forwarding bytes on the connections it carries while keeping their
// sockets open: what a stalled middlebox (a proxy, a NAT box, a bouncer)
// does. Connections accepted after Freeze forward normally, as a fresh
// flow through such a box often does.
type stallProxy struct {
	ln        net.Listener
	target    string
	mu        sync.Mutex
	freezeNew bool
	pairs     []*proxyPair
}

type proxyPair struct {
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	client net.Conn
	server net.Conn
}

// startStallProxy listens on a free loopback port and forwards to the test
// server; it is closed at cleanup.
func startStallProxy(t *testing.T) *stallProxy {
	t.Helper()
	u, err := url.Parse(server.DSN)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: host}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, pp := range p.pairs {
			pp.client.Close()
			pp.server.Close()
			pp.mu.Lock()
			pp.frozen = false
			pp.cond.Broadcast()
			pp.mu.Unlock()
		}
	})
	return p
}

// dsn is the test server's DSN for db through the proxy.
func (p *stallProxy) dsn(t *testing.T, db string) string {
	u, err := url.Parse(dsnFor(t, db, ""))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *stallProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pp := &proxyPair{client: c, server: s}
		pp.cond = sync.NewCond(&pp.mu)
		p.mu.Lock()
		pp.frozen = p.freezeNew
		p.pairs = append(p.pairs, pp)
		p.mu.Unlock()
		go pp.pipe(c, s)
		go pp.pipe(s, c)
	}
}

// pipe copies from src to dst, holding each chunk while the pair is frozen.
func (pp *proxyPair) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			pp.mu.Lock()
			for pp.frozen {
				pp.cond.Wait()
			}
			pp.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

// Freeze stops every connection open now from forwarding anything, both
// ways; the sockets stay open.
func (p *stallProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pp := range p.pairs {
		pp.mu.Lock()
		pp.frozen = true
		pp.mu.Unlock()
	}
}

// FreezeAll also freezes every connection accepted from now on, before it
// forwards its first byte: the whole path is stalled.
func (p *stallProxy) FreezeAll() {
	p.mu.Lock()
	p.freezeNew = true
	p.mu.Unlock()
	p.Freeze()
}

// pgbouncer is Debian's PgBouncer, started by a test as its own process on
// a free loopback port in front of the test server, pool_mode =
// transaction, stock settings otherwise.
type pgbouncer struct {
	port int
}

// startPgBouncer starts PgBouncer for the test, or skips the test (locally
// only) when the binary is absent; under CI=true a missing pgbouncer fails.
func startPgBouncer(t *testing.T) *pgbouncer {
	t.Helper()
	pgtest.Shared(t)
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		pgtest.Unavailable(t, "pgbouncer is not installed (apt-get install pgbouncer); skipping the PgBouncer tests")
	}
	u, err := url.Parse(server.DSN)
	if err != nil {
		t.Fatal(err)
	}
	serverPort := u.Port()
	if serverPort == "" {
		serverPort = "5432"
	}
	user := u.User.Username()
	port := pgtest.FreePort(t)
	dir, err := os.MkdirTemp("", "orch-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
logfile = %s
pidfile = %s
`, u.Hostname(), serverPort, port, filepath.Join(dir, "userlist.txt"), filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	for name, body := range map[string]string{"pgbouncer.ini": cfg, "userlist.txt": fmt.Sprintf("%q \"\"\n", user)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var cmd *exec.Cmd
	ini := filepath.Join(dir, "pgbouncer.ini")
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root.
		cmd = exec.Command("su", "postgres", "-s", "/bin/sh", "-c", "exec "+bin+" "+ini)
	} else {
		cmd = exec.Command(bin, ini)
	}
	if os.Geteuid() == 0 {
		if err := exec.Command("chown", "-R", "postgres", dir).Run(); err != nil {
			t.Fatalf("chown %s to postgres: %v", dir, err)
		}
	}
	out, err := os.CreateTemp("", "orch-pgbouncer-out-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(out.Name()) })
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// su passes the signal on to pgbouncer, which it exec'ed into.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(out.Name())
			flog, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited: %s\n%s", log, flog)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer does not listen on port %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &pgbouncer{port: port}
}

// dsn is db's DSN through the bouncer.
func (b *pgbouncer) dsn(t *testing.T, db string) string {
	u, err := url.Parse(dsnFor(t, db, ""))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	return u.String()
}
