package runner

import (
	"strings"
	"testing"
)

func TestCheckQuery(t *testing.T) {
	cases := []struct {
		name, in, want, err string
	}{
		{"one statement", "SELECT 1", "SELECT 1", ""},
		{"final semicolon and comment", "-- who\nSELECT email FROM users;\n", "-- who\nSELECT email FROM users", ""},
		{"semicolon inside a string", "SELECT ';' AS x", "SELECT ';' AS x", ""},
		{"two statements", "SELECT 1;\nDROP TABLE sessions", "", "2 statements, at lines 1 and 2"},
		{"empty", "  ;  -- nothing", "", "empty"},
		{"unterminated quote", "SELECT 'x", "", "line 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckQuery(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want it to say %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
