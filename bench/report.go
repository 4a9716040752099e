package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// report is the outcome of a harness run.
type report struct {
	Corpus  corpusStats      `json:"corpus"`
	Seed    uint64           `json:"seed"`
	Rounds  int              `json:"rounds"`
	Restic  string           `json:"restic"`
	Results []scenarioResult `json:"results"`
}

type scenarioResult struct {
	Name    string              `json:"name"`
	About   string              `json:"about"`
	Bytes   int64               `json:"bytes"`
	Samples map[string][]sample `json:"samples"`
}

// stat is a median with its range.
type stat struct{ Median, Min, Max float64 }

func summarize(vals []float64) stat {
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	if len(s) == 0 {
		return stat{}
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: m, Min: s[0], Max: s[len(s)-1]}
}

func (r scenarioResult) wall(p string) stat {
	var v []float64
	for _, s := range r.Samples[p] {
		v = append(v, s.Wall.Seconds())
	}
	return summarize(v)
}

func (r scenarioResult) cpu(p string) stat {
	var v []float64
	for _, s := range r.Samples[p] {
		v = append(v, s.CPU.Seconds())
	}
	return summarize(v)
}

func (r scenarioResult) rss(p string) stat {
	var v []float64
	for _, s := range r.Samples[p] {
		v = append(v, float64(s.MaxRSS)/(1<<20))
	}
	return summarize(v)
}

// throughput returns MB/s (10^6 bytes) at the median wall time.
func (r scenarioResult) throughput(p string) float64 {
	w := r.wall(p).Median
	if w == 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / w
}

func (st stat) fmt(unit string, prec int) string {
	return fmt.Sprintf("%.*f %s (%.*f–%.*f)", prec, st.Median, unit, prec, st.Min, prec, st.Max)
}

// markdown renders the report as a Markdown table.
func (rep *report) markdown(w io.Writer) {
	fmt.Fprintf(w, "# arca vs restic\n\n")
	fmt.Fprintf(w, "Corpus: %d files, %.1f MiB (seed %d); %d rounds per program, alternating; restic: `%s`; %s.\n\n",
		rep.Corpus.Files, float64(rep.Corpus.Bytes)/(1<<20), rep.Seed, rep.Rounds, rep.Restic, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintln(w, "| scenario | program | wall (median, min–max) | CPU | peak RSS | throughput |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rep.Results {
		for _, p := range []string{"arca", "restic"} {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.0f MB/s |\n", r.Name, p, r.wall(p).fmt("s", 2), r.cpu(p).fmt("s", 2), r.rss(p).fmt("MiB", 0), r.throughput(p))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | speed ratio (restic wall / arca wall) | memory ratio (arca RSS / restic RSS) |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "| %s | %.2fx | %.2f |\n", r.Name, ratio(r.wall("restic").Median, r.wall("arca").Median), ratio(r.rss("arca").Median, r.rss("restic").Median))
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// write stores report.md and report.json in dir and prints the Markdown.
func (rep *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	rep.markdown(&md)
	fmt.Print(md.String())
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	buf, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.json"), buf, 0o644)
}
