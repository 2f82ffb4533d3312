package fleet

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// Selector is a set of label pairs a target must all have to match, as
// given to --select tier=canary,region=eu. The empty Selector matches every
// target. A Selector is not modified by this package, so it is safe for
// concurrent reads.
type Selector map[string]string

const selectorHint = "want key=value, or several joined by commas like tier=canary,region=eu"

// ParseSelector reads key=value[,key=value...]. Spaces around keys and
// values are ignored; a value may be empty (tier= matches the label tier: "")
// and may contain "=" but not ",". Errors quote s and do not name the flag:
// the caller adds that.
func ParseSelector(s string) (Selector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty selector (%s)", selectorHint)
	}
	sel := make(Selector)
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			return nil, fmt.Errorf("%q has an empty pair (%s)", s, selectorHint)
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("%q: %q is not key=value (%s)", s, pair, selectorHint)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if why := CheckLabelKey(k); why != "" {
			return nil, fmt.Errorf("%q: the key of %q %s", s, pair, why)
		}
		if prev, dup := sel[k]; dup && prev != v {
			return nil, fmt.Errorf("%q: key %q is given twice, as %q and %q; a target has one value per label (to select either, repeat the flag: one selector each)", s, k, prev, v)
		}
		sel[k] = v
	}
	return sel, nil
}

// Matches reports whether t has every label pair of s.
func (s Selector) Matches(t Target) bool {
	for k, v := range s {
		if tv, ok := t.Labels[k]; !ok || tv != v {
			return false
		}
	}
	return true
}

// String renders s as ParseSelector reads it, keys sorted.
func (s Selector) String() string {
	pairs := make([]string, 0, len(s))
	for _, k := range slices.Sorted(maps.Keys(s)) {
		pairs = append(pairs, k+"="+s[k])
	}
	return strings.Join(pairs, ",")
}

// Select returns the targets, in fleet order, that match any of selectors
// (all targets when there are none) and whose name matches any of globs (all
// names when there are none). Globs use path.Match syntax: * and ? do not
// match "/". Selecting no target is not an error; what that means is the
// caller's decision. Every malformed glob is reported, before any target is
// looked at.
func Select(targets []Target, selectors []Selector, globs []string) ([]Target, error) {
	var errs []error
	for _, g := range globs {
		if why := checkGlob(g); why != "" {
			errs = append(errs, fmt.Errorf("target name pattern %q %s", g, why))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []Target
	for _, t := range targets {
		if matchesAnySelector(t, selectors) && matchesAnyGlob(t.Name, globs) {
			out = append(out, t)
		}
	}
	return out, nil
}

// checkGlob returns why g is not a usable pattern, or "".
func checkGlob(g string) string {
	if g == "" {
		return "is empty"
	}
	// path.Match checks the whole pattern, even past a mismatch.
	if _, err := path.Match(g, ""); err != nil {
		return `is malformed (use * and ? as wildcards, [a-z] or [^a-z] for a class, \ to escape)`
	}
	return ""
}

func matchesAnySelector(t Target, selectors []Selector) bool {
	if len(selectors) == 0 {
		return true
	}
	return slices.ContainsFunc(selectors, func(s Selector) bool { return s.Matches(t) })
}

func matchesAnyGlob(name string, globs []string) bool {
	if len(globs) == 0 {
		return true
	}
	return slices.ContainsFunc(globs, func(g string) bool {
		ok, _ := path.Match(g, name) // checked by checkGlob
		return ok
	})
}
