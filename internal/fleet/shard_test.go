package fleet

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		name         string
		in, jobIndex string
		index, count int
	}{
		{name: "first of four", in: "0/4", index: 0, count: 4},
		{name: "last of four", in: "3/4", index: 3, count: 4},
		{name: "one shard", in: "0/1", index: 0, count: 1},
		{name: "spaces", in: " 2 / 7 ", index: 2, count: 7},
		{name: "explicit index wins over the job index", in: "1/4", jobIndex: "3", index: 1, count: 4},
		{name: "count with the job index", in: "4", jobIndex: "2", index: 2, count: 4},
		{name: "count with the first job index", in: "4", jobIndex: "0", index: 0, count: 4},
		{name: "count of one with the job index", in: "1", jobIndex: "0", index: 0, count: 1},
		{name: "job index with a newline", in: "4", jobIndex: "3\n", index: 3, count: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index, count, err := ParseShard(tt.in, tt.jobIndex)
			if err != nil {
				t.Fatalf("ParseShard(%q, %q): %v", tt.in, tt.jobIndex, err)
			}
			if index != tt.index || count != tt.count {
				t.Errorf("ParseShard(%q, %q) = %d, %d, want %d, %d", tt.in, tt.jobIndex, index, count, tt.index, tt.count)
			}
		})
	}
}

func TestParseShardErrors(t *testing.T) {
	const hint = "want i/n with shards numbered from 0, like 0/4 for the first of 4, or n alone with the index in JOB_COMPLETION_INDEX"
	tests := []struct {
		name         string
		in, jobIndex string
		want         string
	}{
		{name: "empty", in: "", want: "empty shard (" + hint + ")"},
		{name: "index not a number", in: "x/4", want: `"x/4": the shard index "x" is not a number from 0 up (` + hint + ")"},
		{name: "negative index", in: "-1/4", want: `"-1/4": the shard index "-1" is not a number from 0 up (` + hint + ")"},
		{name: "empty index", in: "/4", want: `"/4": the shard index "" is not a number from 0 up (` + hint + ")"},
		{name: "count not a number", in: "1/four", want: `"1/four": the shard count "four" is not a number from 1 up (` + hint + ")"},
		{name: "zero count", in: "0/0", want: `"0/0": the shard count "0" is not a number from 1 up (` + hint + ")"},
		{name: "two slashes", in: "1/2/3", want: `"1/2/3": the shard count "2/3" is not a number from 1 up (` + hint + ")"},
		{
			name: "index equal to the count (counted from 1)",
			in:   "4/4",
			want: `"4/4": the shard index must be below the count; shards are numbered from 0, so 4 shards are 0/4 to 3/4`,
		},
		{name: "count alone not a number", in: "four", jobIndex: "1", want: `"four": the shard count "four" is not a number from 1 up (` + hint + ")"},
		{
			name: "count alone without a job index",
			in:   "4",
			want: `"4" gives only the shard count, and JOB_COMPLETION_INDEX, which would give the index, is not set (give both, like 0/4, or run as a Kubernetes Indexed Job)`,
		},
		{
			name:     "job index not a number",
			in:       "4",
			jobIndex: "one",
			want:     `JOB_COMPLETION_INDEX="one" is not a shard index for 4 shards (want 0 to 3; is the Job's completions 4?)`,
		},
		{
			name:     "job index out of range",
			in:       "4",
			jobIndex: "4",
			want:     `JOB_COMPLETION_INDEX="4" is not a shard index for 4 shards (want 0 to 3; is the Job's completions 4?)`,
		},
		{
			name:     "negative job index",
			in:       "4",
			jobIndex: "-1",
			want:     `JOB_COMPLETION_INDEX="-1" is not a shard index for 4 shards (want 0 to 3; is the Job's completions 4?)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index, count, err := ParseShard(tt.in, tt.jobIndex)
			if err == nil {
				t.Fatalf("ParseShard(%q, %q) = %d, %d, want an error", tt.in, tt.jobIndex, index, count)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseShard(%q, %q) error:\n got: %s\nwant: %s", tt.in, tt.jobIndex, err, tt.want)
			}
		})
	}
}

// shardTargets makes n targets with names like a fleet's: tenant_0000,
// tenant_0001, ...
func shardTargets(n int) []Target {
	out := make([]Target, n)
	for i := range out {
		out[i] = Target{Name: fmt.Sprintf("tenant_%04d", i), Labels: map[string]string{}}
	}
	return out
}

func names(targets []Target) []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = t.Name
	}
	return out
}

func TestShardPartition(t *testing.T) {
	targets := shardTargets(1000)
	for _, count := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprintf("%d shards", count), func(t *testing.T) {
			seen := make(map[string]int) // name -> shard
			for index := range count {
				shard := Shard(targets, index, count)
				for _, tg := range shard {
					if prev, dup := seen[tg.Name]; dup {
						t.Fatalf("%s is in shards %d and %d", tg.Name, prev, index)
					}
					seen[tg.Name] = index
				}
				// Fleet order is kept: names were generated in sorted order.
				if !slices.IsSorted(names(shard)) {
					t.Errorf("shard %d/%d is not in fleet order", index, count)
				}
			}
			if len(seen) != len(targets) {
				t.Errorf("the shards hold %d of %d targets", len(seen), len(targets))
			}
		})
	}
}

func TestShardStable(t *testing.T) {
	targets := shardTargets(1000)
	const count = 5
	want := make(map[string]int)
	for index := range count {
		for _, tg := range Shard(targets, index, count) {
			want[tg.Name] = index
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name    string
		targets func() []Target
	}{
		{name: "shuffled", targets: func() []Target {
			s := slices.Clone(targets)
			rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
			return s
		}},
		{name: "reversed", targets: func() []Target {
			s := slices.Clone(targets)
			slices.Reverse(s)
			return s
		}},
		{name: "a selected subset", targets: func() []Target {
			var s []Target
			for i, tg := range targets {
				if i%3 == 0 {
					s = append(s, tg)
				}
			}
			return s
		}},
		{name: "with more targets", targets: func() []Target {
			return append(shardTargets(1000), shardTargets(3000)[1000:]...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for index := range count {
				for _, tg := range Shard(tt.targets(), index, count) {
					if w, known := want[tg.Name]; known && w != index {
						t.Errorf("%s moved from shard %d to %d", tg.Name, w, index)
					}
				}
			}
		})
	}
}

func TestShardBalance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]Target, 1000)
	for i := range random {
		b := make([]byte, 4+rng.IntN(12))
		for j := range b {
			b[j] = "abcdefghijklmnopqrstuvwxyz0123456789-_"[rng.IntN(38)]
		}
		random[i] = Target{Name: string(b)}
	}
	// Names that differ only above their two lowest bits: hash mod 4 would
	// put all of them in one shard.
	var alike []Target
	for _, a := range "aeimquy" {
		for _, b := range "aeimquy" {
			for _, c := range "aeimquy" {
				alike = append(alike, Target{Name: "tenant-" + string([]rune{a, b, c})})
			}
		}
	}
	tests := []struct {
		name    string
		targets []Target
	}{
		{name: "numbered names", targets: shardTargets(1000)},
		{name: "random names", targets: random},
		{name: "names alike in their low bits", targets: alike},
	}
	const count = 4
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mean := float64(len(tt.targets)) / count
			for index := range count {
				n := len(Shard(tt.targets, index, count))
				if float64(n) < 0.7*mean || float64(n) > 1.3*mean {
					t.Errorf("shard %d/%d has %d of %d targets; want within 30%% of %.0f", index, count, n, len(tt.targets), mean)
				}
			}
		})
	}
}

// TestShardPinned pins the shard of a few names: jobs of one rollout may
// run different builds, so the function must never change.
func TestShardPinned(t *testing.T) {
	tests := []struct {
		name  string
		count int
		want  int
	}{
		{"acme", 4, 2},
		{"globex", 4, 1},
		{"initech", 4, 2},
		{"tenant_0042", 7, 0},
		{"", 3, 2},
		{"anything", 1, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q of %d", tt.name, tt.count), func(t *testing.T) {
			if got := shardOf(tt.name, tt.count); got != tt.want {
				t.Errorf("shardOf(%q, %d) = %d, want %d", tt.name, tt.count, got, tt.want)
			}
		})
	}
}

func TestShardPanicsOutOfRange(t *testing.T) {
	for _, tt := range []struct{ index, count int }{{0, 0}, {4, 4}, {-1, 4}} {
		t.Run(fmt.Sprintf("%d/%d", tt.index, tt.count), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Shard(%d, %d) did not panic", tt.index, tt.count)
				}
			}()
			Shard(shardTargets(3), tt.index, tt.count)
		})
	}
}
