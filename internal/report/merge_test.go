package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMerge(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	a := New("up", t0, 2*time.Second, []Target{{Name: "a", Status: StatusApplied}, {Name: "b", Status: StatusRolledBack}})
	b := New("up", t0.Add(time.Second), 3*time.Second, []Target{{Name: "c", Status: StatusUpToDate}})
	m, err := Merge([]*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Targets) != 3 || m.Summary.Targets != 3 || m.Summary.Applied != 1 || m.Summary.RolledBack != 1 || m.Summary.UpToDate != 1 {
		t.Errorf("merged: %+v", m.Summary)
	}
	if !m.StartedAt.Equal(t0) || m.DurationMS != 4000 {
		t.Errorf("merged span: %v + %dms", m.StartedAt, m.DurationMS)
	}
	if m.OK() {
		t.Error("a merged report with a rolled back target is not OK")
	}

	var buf bytes.Buffer
	if err := WriteJSON(&buf, m); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil || back.Summary != m.Summary {
		t.Errorf("round trip: %+v, %v", back, err)
	}

	for name, tc := range map[string]struct {
		reports []*Report
		want    string
	}{
		"overlap":  {[]*Report{a, a}, "shards overlap"},
		"commands": {[]*Report{a, New("down", t0, 0, nil)}, "only shards of one run"},
		"nothing":  {nil, "no reports"},
	} {
		if _, err := Merge(tc.reports); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
	if _, err := Read(strings.NewReader(`{"schema_version": 2}`)); err == nil {
		t.Error("an unknown schema version was accepted")
	}
}
