package cart

import (
	"os"
	"testing"
	"time"
)

// Passes, and shows what handoff gives the command: the run's params and its trace.
func TestAdd(t *testing.T) {
	t.Logf("traceparent %s, param who=%q", os.Getenv("TRACEPARENT"), os.Getenv("HANDOFF_PARAM_WHO"))
	if got := Total(100, 250); got != 350 {
		t.Fatalf("Total(100, 250) = %d, want 350", got)
	}
}

// Subtests: one currency passes, the other fails.
func TestTotal(t *testing.T) {
	for _, c := range []struct {
		currency string
		want     int
	}{{"eur", 300}, {"usd", 301}} {
		t.Run(c.currency, func(t *testing.T) {
			if got := Total(100, 200); got != c.want {
				t.Errorf("Total in %s = %d, want %d", c.currency, got, c.want)
			}
		})
	}
}

// Skipped.
func TestRefund(t *testing.T) {
	t.Skip("refunds are not built yet")
}

// Fails on its first attempt and passes on the next when EXAMPLE_FLAKY_MARKER names a
// file that does not exist yet: a flaky test, when the suite has retries.
func TestFlaky(t *testing.T) {
	marker := os.Getenv("EXAMPLE_FLAKY_MARKER")
	if marker == "" {
		t.Skip("set EXAMPLE_FLAKY_MARKER to a path to make this test flaky")
	}
	if _, err := os.Stat(marker + ".go"); err != nil {
		os.WriteFile(marker+".go", nil, 0o644)
		t.Fatal("first attempt fails")
	}
}

// Hangs when EXAMPLE_HANG is set, or the run's param "hang": the suite's timeout (or a
// cancel) stops it.
func TestHang(t *testing.T) {
	if os.Getenv("EXAMPLE_HANG") == "" && os.Getenv("HANDOFF_PARAM_HANG") == "" {
		t.Skip("set EXAMPLE_HANG=1 (or the param hang) to make this test hang")
	}
	t.Log("waiting for a reply that never comes")
	time.Sleep(time.Hour)
}
