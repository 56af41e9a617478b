package grammar_test

import (
	"testing"

	"glassbox/internal/fixtures"
)

// TestMain reports the tests skipped for lack of fixtures where go test ./... shows it.
func TestMain(m *testing.M) { fixtures.Main(m) }
