package fleet

import "testing"

func TestFailureBudget(t *testing.T) {
	cases := []struct {
		in      string
		n, want int
		str     string
	}{
		{"0", 10, 0, "0"},
		{"3", 10, 3, "3"},
		{"2%", 40, 0, "2%"},
		{"2%", 100, 2, "2%"},
		{"50%", 5, 2, "50%"},
		{"100%", 7, 7, "100%"},
		{" 10 % ", 30, 3, "10%"},
	}
	for _, tc := range cases {
		b, err := ParseFailureBudget(tc.in)
		if err != nil {
			t.Fatalf("ParseFailureBudget(%q): %v", tc.in, err)
		}
		if got := b.Allowed(tc.n); got != tc.want {
			t.Errorf("ParseFailureBudget(%q).Allowed(%d) = %d, want %d", tc.in, tc.n, got, tc.want)
		}
		if b.String() != tc.str {
			t.Errorf("String() = %q, want %q", b.String(), tc.str)
		}
	}
	for _, bad := range []string{"", "-1", "x", "101%", "-5%", "two"} {
		if _, err := ParseFailureBudget(bad); err == nil {
			t.Errorf("ParseFailureBudget(%q) accepted", bad)
		}
	}
	if (FailureBudget{}).Allowed(1000) < 1000 {
		t.Error("unlimited budget limits")
	}
}
