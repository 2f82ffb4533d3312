package runner

import (
	"strings"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

func TestUnadopted(t *testing.T) {
	goose4 := []ledger.Applied{{Version: 1}, {Version: 2}, {Version: 3}, {Version: 4}}
	mig := func(v int64, dirty bool) *ledger.MigrateVersion {
		return &ledger.MigrateVersion{Version: v, Dirty: dirty}
	}
	shape := "version bigint, dirty boolean"
	cases := []struct {
		name      string
		book      ledger.State
		ignore    bool
		unadopted bool
		managedBy string
		claimed   int64 // -1: none
		says      []string
	}{
		{name: "empty", book: ledger.State{}},
		{name: "goose only", book: ledger.State{Presence: ledger.Presence{Version: true}, Applied: goose4, Current: 4}},
		{name: "goose and golang-migrate agree",
			book: ledger.State{Presence: ledger.Presence{Version: true, Migrate: true, MigrateColumns: shape}, Applied: goose4, Current: 4, MigrateRow: mig(4, false), MigrateRows: 1}},
		{name: "goose and golang-migrate disagree", unadopted: true, managedBy: "golang-migrate", claimed: 2,
			book: ledger.State{Presence: ledger.Presence{Version: true, Migrate: true, MigrateColumns: shape}, Applied: goose4, Current: 4, MigrateRow: mig(2, false), MigrateRows: 1},
			says: []string{"says version 4", "says version 2", "adopt --version"}},
		{name: "disagreement ignored", ignore: true,
			book: ledger.State{Presence: ledger.Presence{Version: true, Migrate: true, MigrateColumns: shape}, Applied: goose4, Current: 4, MigrateRow: mig(2, false), MigrateRows: 1}},
		{name: "another framework's table beside goose's",
			book: ledger.State{Presence: ledger.Presence{Version: true, Migrate: true, MigrateColumns: "version character varying"}, Applied: goose4, Current: 4}},
		{name: "golang-migrate", unadopted: true, managedBy: "golang-migrate", claimed: 2,
			book: ledger.State{Presence: ledger.Presence{Migrate: true, MigrateColumns: shape, Objects: true}, MigrateRow: mig(2, false), MigrateRows: 1},
			says: []string{"golang-migrate at version 2", "orchestrator adopt"}},
		{name: "golang-migrate dirty", unadopted: true, managedBy: "golang-migrate", claimed: 3,
			book: ledger.State{Presence: ledger.Presence{Migrate: true, MigrateColumns: shape, Objects: true}, MigrateRow: mig(3, true), MigrateRows: 1},
			says: []string{"dirty at version 3", "orchestrator adopt --version"}},
		{name: "golang-migrate ignored is still not ours", ignore: true, unadopted: true, managedBy: "golang-migrate", claimed: 2,
			book: ledger.State{Presence: ledger.Presence{Migrate: true, MigrateColumns: shape, Objects: true}, MigrateRow: mig(2, false), MigrateRows: 1}},
		{name: "psql", unadopted: true, managedBy: "manual", claimed: -1,
			book: ledger.State{Presence: ledger.Presence{Objects: true}}, says: []string{"psql -f", "orchestrator adopt"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Runner{keepMigrate: !tc.ignore}
			res := r.unadopted(fromLedger(tc.book))
			if (res != nil) != tc.unadopted {
				t.Fatalf("unadopted = %+v, want %v", res, tc.unadopted)
			}
			if res == nil {
				return
			}
			if res.Status != report.StatusUnadopted || res.ManagedBy != tc.managedBy || len(res.Pending) != 0 {
				t.Errorf("%+v", res)
			}
			if (tc.claimed < 0) != (res.ClaimedVersion == nil) || (res.ClaimedVersion != nil && *res.ClaimedVersion != tc.claimed) {
				t.Errorf("claimed %v, want %d", res.ClaimedVersion, tc.claimed)
			}
			for _, s := range tc.says {
				if !strings.Contains(res.Error.Message, s) {
					t.Errorf("message %q lacks %q", res.Error.Message, s)
				}
			}
		})
	}
}
