package fleet

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// JobIndexEnv is the environment variable a Kubernetes Indexed Job sets to
// the pod's index; "--shard n" takes the shard index from it.
const JobIndexEnv = "JOB_COMPLETION_INDEX"

const shardHint = "want i/n with shards numbered from 0, like 0/4 for the first of 4, or n alone with the index in " + JobIndexEnv

// ParseShard reads a --shard value: "i/n" (shard i of n, 0 <= i < n) or
// "n" alone, the count, with the index taken from jobIndex, the value of
// JobIndexEnv ("" when it is not set). An explicit i/n ignores jobIndex.
// Errors quote s and do not name the flag: the caller adds that.
func ParseShard(s string, jobIndex string) (index, count int, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, fmt.Errorf("empty shard (%s)", shardHint)
	}
	is, ns, explicit := strings.Cut(s, "/")
	if !explicit {
		ns = s
	}
	if count, err = parseCount(ns); err != nil {
		return 0, 0, fmt.Errorf("%q: %v (%s)", s, err, shardHint)
	}
	if !explicit {
		jobIndex = strings.TrimSpace(jobIndex)
		if jobIndex == "" {
			return 0, 0, fmt.Errorf("%q gives only the shard count, and %s, which would give the index, is not set (give both, like 0/%d, or run as a Kubernetes Indexed Job)", s, JobIndexEnv, count)
		}
		if index, err = strconv.Atoi(jobIndex); err != nil || index < 0 || index >= count {
			return 0, 0, fmt.Errorf("%s=%q is not a shard index for %d shards (want 0 to %d; is the Job's completions %d?)", JobIndexEnv, report.Truncate(jobIndex, 40), count, count-1, count)
		}
		return index, count, nil
	}
	index, err = strconv.Atoi(strings.TrimSpace(is))
	switch {
	case err != nil || index < 0:
		return 0, 0, fmt.Errorf("%q: the shard index %q is not a number from 0 up (%s)", s, report.Truncate(strings.TrimSpace(is), 40), shardHint)
	case index >= count:
		return 0, 0, fmt.Errorf("%q: the shard index must be below the count; shards are numbered from 0, so %d shards are 0/%d to %d/%d", s, count, count, count-1, count)
	}
	return index, count, nil
}

// parseCount reads a shard count, 1 or more.
func parseCount(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("the shard count %q is not a number from 1 up", report.Truncate(s, 40))
	}
	return n, nil
}

// Shard returns the targets of shard index of count, in fleet order. A
// target's shard depends on its name and count only, never on the other
// targets or their order, so jobs that each read the fleet (and select from
// it) on their own split it between them without overlap or gaps. It panics
// unless 0 <= index < count, as ParseShard guarantees.
func Shard(targets []Target, index, count int) []Target {
	if count < 1 || index < 0 || index >= count {
		panic(fmt.Sprintf("fleet.Shard: shard %d/%d is out of range", index, count))
	}
	var out []Target
	for _, t := range targets {
		if shardOf(t.Name, count) == index {
			out = append(out, t)
		}
	}
	return out
}

// shardOf is the shard of the target called name: the FNV-1a 64 hash of
// the name, put through MurmurHash3's 64-bit finalizer, mod count.
//
// FNV-1a alone splits names like a fleet's badly: its low bits depend only
// on the low bits of each byte (with 4 shards, "tenant-a" and "tenant-e"
// would always share one), and its high bits barely move when only the last
// characters differ (tenant_0000 to tenant_0999 put 600 of 1000 in one of 4
// shards). The finalizer makes every bit depend on every input bit.
//
// Never change this function: jobs of one rollout may run different builds,
// and they must agree on every target's shard. TestShardPinned guards it.
func shardOf(name string, count int) int {
	h := fnv.New64a()
	h.Write([]byte(name)) // a hash.Hash never returns an error
	return int(fmix64(h.Sum64()) % uint64(count))
}

// fmix64 is the 64-bit finalizer of MurmurHash3.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
