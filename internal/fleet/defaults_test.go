package fleet

import (
	"testing"
	"time"
)

func TestConnectBound(t *testing.T) {
	if got := (Defaults{ConnectTimeout: 3 * time.Second}).ConnectBound(); got != 3*time.Second {
		t.Errorf("ConnectBound() of a 3s connect_timeout = %v, want 3s", got)
	}
	if got, want := (Defaults{}).ConnectBound(), BuiltinDefaults().ConnectTimeout; got != want {
		t.Errorf("ConnectBound() without a connect_timeout = %v, want the built-in %v", got, want)
	}
}
