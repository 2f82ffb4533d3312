package fleet

import (
	"errors"
	"strings"
	"testing"
)

// env returns a lookup function over m, standing in for os.LookupEnv.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// parseString parses src as the fleet file "fleet.yaml".
func parseString(t *testing.T, src string, vars map[string]string) (*Fleet, error) {
	t.Helper()
	return Parse(strings.NewReader(src), "fleet.yaml", env(vars))
}

// asError asserts that err is an *Error and returns it.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want an *Error")
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %T (%v), want *Error", err, err)
	}
	return fe
}
