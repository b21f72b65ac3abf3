//go:build tools

// Package tools keeps Prometheus's commands in go.mod so `go mod tidy` does not
// drop them; build.sh builds their main packages.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
