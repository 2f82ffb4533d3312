package report

// AllowedFor is allowedFor, for the tests of package report_test (which
// may import package fleet, which imports report).
var AllowedFor = allowedFor
