package fleet

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	f, err := Load(filepath.Join("testdata", "fleet.yaml"), env(map[string]string{
		"ACME_PASSWORD":   "s3cret",
		"GLOBEX_PASSWORD": "an0ther",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if f.Path != filepath.Join("testdata", "fleet.yaml") {
		t.Errorf("Path = %q", f.Path)
	}
	var names, origins, redacted []string
	for _, tg := range f.Targets {
		names = append(names, tg.Name)
		origins = append(origins, tg.Origin)
		redacted = append(redacted, tg.RedactedDSN())
	}
	if want := []string{"acme", "globex"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %q, want %q", names, want)
	}
	wantOrigins := []string{filepath.Join("testdata", "fleet.yaml") + ":12", filepath.Join("testdata", "fleet.yaml") + ":15"}
	if !reflect.DeepEqual(origins, wantOrigins) {
		t.Errorf("origins = %q, want %q", origins, wantOrigins)
	}
	wantRedacted := []string{
		"postgres://app:xxxxx@db1:5432/acme?sslmode=require",
		"host=db2 port=5432 dbname=globex user=app password=xxxxx sslmode=require",
	}
	if !reflect.DeepEqual(redacted, wantRedacted) {
		t.Errorf("redacted DSNs = %q, want %q", redacted, wantRedacted)
	}
	if f.Defaults.Parallelism != 4 {
		t.Errorf("Parallelism = %d, want 4", f.Defaults.Parallelism)
	}
	wantWaves := []Wave{
		{Name: "canary", Select: map[string]string{"tier": "canary"}, MaxFailures: FailureBudget{Limited: true}, Line: 21},
		{Name: "everyone", MaxFailures: FailureBudget{Limited: true, Percent: 2}, Line: 24},
	}
	if !reflect.DeepEqual(f.Waves, wantWaves) {
		t.Errorf("Waves = %+v, want %+v", f.Waves, wantWaves)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		path   string
		want   string
		wantIs error
	}{
		{
			name:   "missing file",
			path:   filepath.Join(dir, "missing.yaml"),
			want:   filepath.Join(dir, "missing.yaml") + ": cannot read fleet file: no such file or directory",
			wantIs: fs.ErrNotExist,
		},
		{
			name: "directory",
			path: dir,
			want: dir + ": cannot read fleet file: is a directory",
		},
		{
			name: "no path",
			path: "",
			want: "no fleet file given (use --fleet FILE or ORCH_FLEET, or --dsn for a single database)",
		},
		{
			name: "several problems at once",
			path: filepath.Join("testdata", "broken.yaml"),
			want: strings.Join([]string{
				`testdata/broken.yaml:2: unknown key "paralellism" in defaults (did you mean "parallelism"?)`,
				`testdata/broken.yaml:3: defaults.lock_timeout: "soon" is not a duration (use e.g. 500ms, 2s, 5m)`,
				`testdata/broken.yaml:6: undefined variable ${ACME_PASSWORD} in targets[0].dsn`,
				`testdata/broken.yaml:7: target "acme" is defined twice (first at line 5)`,
				`testdata/broken.yaml:9: target "globex" has no dsn`,
				`testdata/broken.yaml:10: targets[2].labels must be a mapping of key: value, got a list`,
			}, "\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Load(tt.path, env(nil))
			if f != nil {
				t.Errorf("Load returned a fleet: %+v", f)
			}
			fe := asError(t, err)
			if got := fe.Error(); got != tt.want {
				t.Errorf("Error():\n got: %s\nwant: %s", got, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantIs)
			}
		})
	}
}

// TestLoadUnreadable opens the file the way the system opens a mode 0000
// file for a user other than root, refusing it, so that it runs as root
// too (root reads any file).
func TestLoadUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	denied := func(p string) (io.ReadCloser, error) {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}
	_, err := load(path, nil, denied)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("errors.Is(err, fs.ErrPermission) = false for %v", err)
	}
	if want := path + ": cannot read fleet file: permission denied"; asError(t, err).Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestSingle(t *testing.T) {
	tests := []struct {
		name     string
		dsn      string
		wantName string
	}{
		{name: "url with database", dsn: "postgres://app:s3cret@db1:5432/acme?sslmode=disable", wantName: "acme"},
		{name: "url with encoded database", dsn: "postgres://db1/tenant%2D42", wantName: "tenant-42"},
		{name: "url without database", dsn: "postgres://app:s3cret@db1:5432", wantName: "default"},
		{name: "keyword/value", dsn: "host=db1 user=app password=s3cret dbname=globex", wantName: "globex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PGDATABASE", "")
			f, err := Single(tt.dsn)
			if err != nil {
				t.Fatalf("Single: %v", err)
			}
			want := &Fleet{
				Defaults: BuiltinDefaults(),
				Targets: []Target{{
					Name:   tt.wantName,
					DSN:    tt.dsn,
					Labels: map[string]string{},
					Origin: "--dsn",
				}},
			}
			if !reflect.DeepEqual(f, want) {
				t.Errorf("Single(%q) =\n %+v\nwant\n %+v", tt.dsn, f, want)
			}
		})
	}
}

func TestSingleErrors(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
		want string
	}{
		{
			name: "empty",
			dsn:  "  ",
			want: "the database URL (--dsn or DATABASE_URL) is empty",
		},
		{
			name: "bad port",
			dsn:  "postgres://app:s3cret@db1:port/acme",
			want: "the database URL (--dsn or DATABASE_URL) is not a valid PostgreSQL connection string: invalid port (expected postgres://user:password@host:5432/db or host=... dbname=...)",
		},
		{
			name: "bad sslmode",
			dsn:  "host=db1 password='s3 cret' sslmode=sometimes",
			want: "the database URL (--dsn or DATABASE_URL) is not a valid PostgreSQL connection string: failed to configure TLS (sslmode is invalid) (expected postgres://user:password@host:5432/db or host=... dbname=...)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Single(tt.dsn)
			if f != nil {
				t.Errorf("Single returned a fleet: %+v", f)
			}
			fe := asError(t, err)
			if fe.Path != "" {
				t.Errorf("Path = %q, want empty", fe.Path)
			}
			if got := fe.Error(); got != tt.want {
				t.Errorf("Error():\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "path and lines",
			err:  newError("fleet.yaml", nil, problem(0, "no targets"), problem(3, "bad")),
			want: "fleet.yaml: no targets\nfleet.yaml:3: bad",
		},
		{
			name: "no path",
			err:  newError("", nil, problem(0, "dsn is empty"), problem(2, "bad")),
			want: "dsn is empty\nline 2: bad",
		},
		{
			name: "no problems",
			err:  &Error{Path: "fleet.yaml"},
			want: "fleet.yaml: invalid fleet file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
