package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestUnadoptedTarget: an unadopted target counts as a failure, has its own
// summary count, and the table shows the claimed version and who claims it,
// never a 0 that reads as "nothing applied".
func TestUnadoptedTarget(t *testing.T) {
	two := int64(2)
	r := New("status", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Second, []Target{
		{Name: "acme", Status: StatusUnadopted, ManagedBy: "golang-migrate", ClaimedVersion: &two,
			Error: &Error{Class: "unadopted", Message: "managed by golang-migrate at version 2: run `orchestrator adopt`"}},
		{Name: "globex", Status: StatusUnadopted, ManagedBy: "manual",
			Error: &Error{Class: "unadopted", Message: "holds tables but no version table: run `orchestrator adopt`"}},
		{Name: "initech", Status: StatusUpToDate, FromVersion: V(4), ToVersion: V(4)},
	})
	if r.OK() {
		t.Error("a report with unadopted targets is OK")
	}
	if r.Summary.Unadopted != 2 || r.Summary.UpToDate != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"acme     unadopted   2 (golang-migrate)", "globex   unadopted   ? (manual)", "orchestrator adopt", "2 unadopted"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"managed_by": "golang-migrate"`, `"claimed_version": 2`, `"unadopted": 2`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
}
