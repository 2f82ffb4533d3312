package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// TargetInfo describes a resolved target for the `targets` command. DSN is
// already redacted by whoever builds it.
type TargetInfo struct {
	Name   string            `json:"name"`
	DSN    string            `json:"dsn"`
	Labels map[string]string `json:"labels"`
	Origin string            `json:"origin"`
}

// WriteTargets renders the resolved target list in format f: a table
// (also for an unnamed format), JSON, a markdown table, or JUnit XML with one
// passing test case per target.
func WriteTargets(w io.Writer, f Format, list []TargetInfo) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			SchemaVersion int          `json:"schema_version"`
			Targets       []TargetInfo `json:"targets"`
		}{SchemaVersion, list})
	case FormatMarkdown:
		return writeTargetsMarkdown(w, list)
	case FormatJUnit:
		return writeTargetsJUnit(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tLABELS\tDSN\tDEFINED AT")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(t.Name), cell(labelString(t.Labels)), cell(t.DSN), cell(t.Origin))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", Plural(len(list), "target"))
	return err
}

// labelString renders labels as sorted k=v pairs.
func labelString(labels map[string]string) string {
	if len(labels) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}
