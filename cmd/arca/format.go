package main

import (
	"fmt"
	"time"
)

// formatBytes formats a byte count as restic does ("1.500 KiB").
func formatBytes(c uint64) string {
	b := float64(c)
	switch {
	case c >= 1<<40:
		return fmt.Sprintf("%.3f TiB", b/(1<<40))
	case c >= 1<<30:
		return fmt.Sprintf("%.3f GiB", b/(1<<30))
	case c >= 1<<20:
		return fmt.Sprintf("%.3f MiB", b/(1<<20))
	case c >= 1<<10:
		return fmt.Sprintf("%.3f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%d B", c)
}

// formatPercent formats n/total as restic's progress does (empty for total 0).
func formatPercent(n, total uint64) string {
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("%3.2f%%", min(100*float64(n)/float64(total), 100))
}

// formatDuration formats elapsed time as restic's progress does: m:ss, or
// h:mm:ss from one hour on.
func formatDuration(d time.Duration) string {
	sec := uint64(d / time.Second)
	h, m, s := sec/3600, sec/60%60, sec%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// jsonItemError is restic's --json message about an item that failed
// (backup: during "archival", restore: "restore"), fields in its order.
type jsonItemError struct {
	MessageType string `json:"message_type"` // "error"
	Error       struct {
		Message string `json:"message"`
	} `json:"error"`
	During string `json:"during"`
	Item   string `json:"item"`
}

func newJSONItemError(during, item string, err error) jsonItemError {
	e := jsonItemError{MessageType: "error", During: during, Item: item}
	e.Error.Message = err.Error()
	return e
}
