package fleet

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"parallelism", "parallelism", 0},
		{"paralellism", "parallelism", 2},
		{"lock_timout", "lock_timeout", 1},
		{"tagrets", "targets", 2},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := editDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestUnknownKeyMsg(t *testing.T) {
	tests := []struct {
		name, key string
		known     []string
		want      string
	}{
		{"typo", "paralellism", defaultKeys(), `unknown key "paralellism" in defaults (did you mean "parallelism"?)`},
		{"case", "Lock_Timeout", defaultKeys(), `unknown key "Lock_Timeout" in defaults (did you mean "lock_timeout"?)`},
		{"transposition", "tiemout", defaultKeys(), `unknown key "tiemout" in defaults (did you mean "timeout"?)`},
		{"alias", "url", targetKeys(), `unknown key "url" in defaults (did you mean "dsn"?)`},
		{"alias for another mapping is not suggested", "url", defaultKeys(),
			`unknown key "url" in defaults (known keys: parallelism, lock_timeout, statement_timeout, connect_timeout, idle_in_transaction_timeout, lock_wait, timeout, stall_timeout, shared_schemas, golang_migrate_table, max_exclusive_rows)`},
		{"too far", "retries", targetKeys(), `unknown key "retries" in defaults (known keys: name, dsn, direct_dsn, labels)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unknownKeyMsg(tt.key, "in defaults", tt.known); got != tt.want {
				t.Errorf("unknownKeyMsg(%q) =\n %s\nwant\n %s", tt.key, got, tt.want)
			}
		})
	}
}
