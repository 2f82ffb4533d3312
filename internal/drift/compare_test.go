package drift

import (
	"slices"
	"testing"
)

// testSnapshot returns a small schema, built by hand: a fresh copy each
// call.
func testSnapshot() *Snapshot {
	return &Snapshot{
		Tables: map[string]*Table{
			"users": {
				Name: "users", Kind: "table",
				Columns: map[string]*Column{
					"id":    {Name: "id", Type: "bigint", NotNull: true, Default: "nextval('users_id_seq'::regclass)"},
					"email": {Name: "email", Type: "character varying(255)", NotNull: true},
				},
				Indexes: map[string]*Index{
					"users_pkey":      {Name: "users_pkey", Definition: "USING btree (id)", Unique: true, Valid: true, Constraint: "users_pkey"},
					"idx_users_email": {Name: "idx_users_email", Definition: "USING btree (email)", Unique: true, Valid: true},
				},
				Constraints: map[string]*Constraint{
					"users_pkey": {Name: "users_pkey", Type: "primary key", Definition: "PRIMARY KEY (id)", Validated: true},
				},
			},
			"api_keys": {
				Name: "api_keys", Kind: "table",
				Columns: map[string]*Column{
					"user_id": {Name: "user_id", Type: "bigint", NotNull: true},
				},
				Indexes: map[string]*Index{},
				Constraints: map[string]*Constraint{
					"api_keys_user_id_fkey": {Name: "api_keys_user_id_fkey", Type: "foreign key",
						Definition: "FOREIGN KEY (user_id) REFERENCES users(id)", OnUpdate: "no action", OnDelete: "cascade", Validated: true},
				},
			},
		},
		Sequences: map[string]*Sequence{
			"users_id_seq": {Name: "users_id_seq", OwnedBy: "users.id", Type: "bigint", Start: 1, Increment: 1, Min: 1,
				Max: 9223372036854775807, Cache: 1},
		},
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(s *Snapshot)
		want   []string
	}{
		{name: "identical", tamper: func(*Snapshot) {}},
		{
			name:   "missing table takes its column's sequence with it",
			tamper: func(s *Snapshot) { delete(s.Tables, "users"); delete(s.Sequences, "users_id_seq") },
			want:   []string{"table users missing"},
		},
		{
			name: "missing column takes its sequence with it",
			tamper: func(s *Snapshot) {
				delete(s.Tables["users"].Columns, "id")
				delete(s.Sequences, "users_id_seq")
			},
			want: []string{"column users.id missing"},
		},
		{
			name:   "missing sequence with its column in place",
			tamper: func(s *Snapshot) { delete(s.Sequences, "users_id_seq") },
			want:   []string{"sequence users_id_seq missing"},
		},
		{
			name: "free-standing sequence",
			tamper: func(s *Snapshot) {
				s.Sequences["invoice_numbers"] = &Sequence{Name: "invoice_numbers", Type: "bigint", Increment: 1}
			},
			want: []string{"sequence invoice_numbers unexpected"},
		},
		{
			name: "a constraint's index goes with it",
			tamper: func(s *Snapshot) {
				delete(s.Tables["users"].Constraints, "users_pkey")
				delete(s.Tables["users"].Indexes, "users_pkey")
			},
			want: []string{"constraint users.users_pkey missing"},
		},
		{
			name: "index that lost its constraint",
			tamper: func(s *Snapshot) {
				delete(s.Tables["users"].Constraints, "users_pkey")
				s.Tables["users"].Indexes["users_pkey"].Constraint = ""
			},
			want: []string{"constraint users.users_pkey missing"},
		},
		{
			name:   "index enforcing another constraint",
			tamper: func(s *Snapshot) { s.Tables["users"].Indexes["idx_users_email"].Constraint = "users_pkey" },
			want:   []string{"index users.idx_users_email enforces constraint users_pkey, expected enforces no constraint"},
		},
		{
			name: "several differences of one column, in a stable order",
			tamper: func(s *Snapshot) {
				c := s.Tables["users"].Columns["email"]
				c.Type, c.NotNull, c.Default = "text", false, "''::text"
			},
			want: []string{
				"column users.email default ''::text, expected no default",
				"column users.email nullable, expected not null",
				"column users.email type text, expected character varying(255)",
			},
		},
		{
			name: "identity and generated",
			tamper: func(s *Snapshot) {
				s.Tables["users"].Columns["id"].Identity = "always"
				s.Tables["users"].Columns["email"].Generated = "lower(name)"
			},
			want: []string{
				"column users.email generated always as (lower(name)) stored, expected not generated",
				"column users.id generated always as identity, expected not an identity column",
			},
		},
		{
			name: "foreign key actions",
			tamper: func(s *Snapshot) {
				c := s.Tables["api_keys"].Constraints["api_keys_user_id_fkey"]
				c.OnUpdate, c.OnDelete = "cascade", "set null"
			},
			want: []string{
				"constraint api_keys.api_keys_user_id_fkey on delete set null, expected cascade",
				"constraint api_keys.api_keys_user_id_fkey on update cascade, expected no action",
			},
		},
		{
			name:   "partitioned",
			tamper: func(s *Snapshot) { s.Tables["api_keys"].Kind = "partitioned table" },
			want:   []string{"table api_keys is a partitioned table, expected a table"},
		},
		{
			name: "sequence",
			tamper: func(s *Snapshot) {
				q := s.Sequences["users_id_seq"]
				q.OwnedBy, q.Type, q.Max, q.Cycle = "", "integer", 2147483647, true
			},
			want: []string{
				"sequence users_id_seq cycles, expected does not cycle",
				"sequence users_id_seq maximum 2147483647, expected 9223372036854775807",
				"sequence users_id_seq owned by no column, expected owned by users.id",
				"sequence users_id_seq type integer, expected bigint",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			actual := testSnapshot()
			tt.tamper(actual)
			got := findingStrings(Compare(actual, testSnapshot()))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Compare =\n%q\nwant\n%q", got, tt.want)
			}
			if same := actual.Fingerprint() == testSnapshot().Fingerprint(); same != (len(tt.want) == 0) {
				t.Errorf("fingerprints equal = %v, want %v", same, len(tt.want) == 0)
			}
		})
	}
}

func TestCompareNil(t *testing.T) {
	if fs := Compare(nil, &Snapshot{}); len(fs) != 0 {
		t.Errorf("Compare(nil, empty) = %q", findingStrings(fs))
	}
	if got, want := findingStrings(Compare(nil, testSnapshot())), []string{"table api_keys missing", "table users missing"}; !slices.Equal(got, want) {
		t.Errorf("Compare(nil, schema) = %q, want %q", got, want)
	}
	if (*Snapshot)(nil).Fingerprint() != (&Snapshot{}).Fingerprint() {
		t.Error("a nil snapshot's fingerprint differs from an empty one's")
	}
}

func TestFingerprintIgnoresMapOrderAndNames(t *testing.T) {
	a, b := testSnapshot(), testSnapshot()
	// Rebuild b's maps in another insertion order.
	tables := map[string]*Table{}
	for _, name := range []string{"users", "api_keys"} {
		tables[name] = b.Tables[name]
	}
	b.Tables = tables
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("fingerprint depends on map order")
	}
	b.Tables["users"].Columns["email"].Type = "text"
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("fingerprint ignores a column type")
	}
}

func TestUnqualify(t *testing.T) {
	tests := []struct{ schema, in, want string }{
		{"tenant_a", "nextval('tenant_a.users_id_seq'::regclass)", "nextval('users_id_seq'::regclass)"},
		{"tenant_a", "FOREIGN KEY (user_id) REFERENCES tenant_a.users(id)", "FOREIGN KEY (user_id) REFERENCES users(id)"},
		{"tenant_a", "xtenant_a.users", "xtenant_a.users"},
		{"tenant_a", "other.tenant_a.x", "other.tenant_a.x"},
		{`"Tenant B"`, `nextval('"Tenant B".users_id_seq'::regclass)`, "nextval('users_id_seq'::regclass)"},
		{"public", "tenant_a.mood", "tenant_a.mood"},
		{"public", "public.a = public.b", "a = b"},
	}
	for _, tt := range tests {
		if got := (normalizer{schema: tt.schema}).unqualify(tt.in); got != tt.want {
			t.Errorf("unqualify(%q) in %s = %q, want %q", tt.in, tt.schema, got, tt.want)
		}
	}
}

func TestIndexDefinition(t *testing.T) {
	n := normalizer{schema: "tenant_a"}
	tests := []struct{ def, name, table, want string }{
		{"CREATE UNIQUE INDEX idx_users_email ON tenant_a.users USING btree (email) WHERE (deleted_at IS NULL)",
			"idx_users_email", "tenant_a.users", "USING btree (email) WHERE (deleted_at IS NULL)"},
		{"CREATE INDEX i ON ONLY tenant_a.events USING btree (at)", "i", "tenant_a.events", "USING btree (at)"},
		{`CREATE INDEX "My Index" ON tenant_a."My Table" USING btree (x)`, `"My Index"`, `tenant_a."My Table"`, "USING btree (x)"},
		// Unexpected shapes are kept whole, unqualified.
		{"CREATE INDEX i ON tenant_a.t USING btree (x)", "j", "tenant_a.t", "CREATE INDEX i ON t USING btree (x)"},
	}
	for _, tt := range tests {
		if got := n.indexDefinition(tt.def, tt.name, tt.table); got != tt.want {
			t.Errorf("indexDefinition(%q) = %q, want %q", tt.def, got, tt.want)
		}
	}
}

func TestStripFKActions(t *testing.T) {
	def := "FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE SET NULL DEFERRABLE"
	if got, want := stripNotValid(stripFKActions(def+" NOT VALID", "cascade", "set null"), false),
		"FOREIGN KEY (user_id) REFERENCES users(id) DEFERRABLE"; got != want {
		t.Errorf("stripped = %q, want %q", got, want)
	}
}
