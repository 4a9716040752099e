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
	Date    time.Time        `json:"date"`
	Machine machineInfo      `json:"machine"`
	Seed    uint64           `json:"seed"`
	Rounds  int              `json:"rounds"`
	Backend string           `json:"backend"`
	Cache   bool             `json:"cache"`
	Key     string           `json:"key"` // scrypt parameters of every run's key
	Restic  string           `json:"restic"`
	Corpora []corpusInfo     `json:"corpora"`
	Results []scenarioResult `json:"results"`
}

// corpusInfo describes one corpus of the run.
type corpusInfo struct {
	Kind  string      `json:"kind"`
	About string      `json:"about"`
	Stats corpusStats `json:"stats"`
	Edits editStats   `json:"edits"`
	// Source is the directory of a -source corpus, which has no edits
	Source string `json:"source,omitempty"`
}

// failures counts program runs that failed (not those not available).
func (rep *report) failures() int {
	n := 0
	for _, r := range rep.Results {
		for _, st := range r.Status {
			if st == statusFailed {
				n++
			}
		}
	}
	return n
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

// of summarizes one quantity of prog's samples.
func (r scenarioResult) of(prog string, f func(sample) float64) stat {
	var v []float64
	for _, s := range r.Samples[prog] {
		v = append(v, f(s))
	}
	return summarize(v)
}

func wallSeconds(s sample) float64 { return s.Wall.Seconds() }
func cpuSeconds(s sample) float64  { return s.CPU.Seconds() }
func rssMiB(s sample) float64      { return float64(s.MaxRSS) / (1 << 20) }
func repoMiB(s sample) float64 {
	if s.RepoDelta == nil {
		return 0
	}
	return float64(*s.RepoDelta) / (1 << 20)
}

// hasRepoDelta tells whether prog's samples measured the repository.
func (r scenarioResult) hasRepoDelta(prog string) bool {
	s := r.Samples[prog]
	return len(s) > 0 && s[0].RepoDelta != nil
}

// measured tells whether both programs have samples.
func (r scenarioResult) measured() bool {
	return len(r.Samples["arca"]) > 0 && len(r.Samples["restic"]) > 0
}

// ratio is arca's median over restic's for one quantity (0: none).
func (r scenarioResult) ratio(f func(sample) float64) float64 {
	if !r.measured() {
		return 0
	}
	a, b := r.of("arca", f).Median, r.of("restic", f).Median
	if b == 0 {
		return 0
	}
	return a / b
}

// throughput returns MB/s (10^6 bytes) of the corpus at the median wall time.
func (r scenarioResult) throughput(p string) float64 {
	w := r.of(p, wallSeconds).Median
	if w == 0 || r.Bytes == 0 {
		return 0
	}
	return float64(r.Bytes) / 1e6 / w
}

func (st stat) fmt(unit string, prec int) string {
	return fmt.Sprintf("%.*f %s (%.*f–%.*f)", prec, st.Median, unit, prec, st.Min, prec, st.Max)
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x)
}

// markdown renders the report.
func (rep *report) markdown(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "# arca vs restic\n\n")
	fmt.Fprintf(w, "%s. Machine: %s, %d cores, %d GiB, Linux %s, %s, load average at start %s. restic: %s (`%s`). arca: %s.\n\n",
		rep.Date.Format(time.RFC3339), m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.GoVersion, m.LoadAvg, m.Restic, rep.Restic, m.Arca)
	rounds := fmt.Sprintf("%d rounds per program, the programs alternating", rep.Rounds)
	if rep.Rounds == 1 {
		rounds = "One round per program"
	}
	cache := "no local cache (--no-cache)"
	if rep.Cache {
		cache = "a local cache shared by the programs, which list the latest snapshot before a measured command on a repository that has one (not timed)"
	}
	fmt.Fprintf(w, "%s; %s repositories; %s; corpus seed %d. Repositories to start from are written by restic; every run gets a fresh copy (not timed), with the key of the first (%s).\n\n", rounds, rep.Backend, cache, rep.Seed, rep.Key)
	fmt.Fprintln(w, "| corpus | files | size | edits for the incremental backup |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, c := range rep.Corpora {
		if c.Source != "" {
			fmt.Fprintf(w, "| %s (`%s`) | %d | %s | none (-source: read in place, never changed) |\n", c.Kind, mdEscape(c.Source), c.Stats.Files, fmtBytes(c.Stats.Bytes))
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", c.Kind, c.Stats.Files, fmtBytes(c.Stats.Bytes), c.Edits)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Ratios arca/restic (medians; below 1: arca is faster or smaller)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "![arca/restic ratios](report.svg)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| corpus | scenario | wall | CPU | peak RSS | repository growth |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rep.Results {
		if !r.measured() {
			fmt.Fprintf(w, "| %s | %s | %s | | | |\n", r.Corpus, r.Name, r.unavailable())
			continue
		}
		repo := "–"
		if r.hasRepoDelta("arca") && r.hasRepoDelta("restic") {
			repo = fmtRatio(r.ratio(repoMiB))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Corpus, r.Name, fmtRatio(r.ratio(wallSeconds)), fmtRatio(r.ratio(cpuSeconds)), fmtRatio(r.ratio(rssMiB)), repo)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Measurements (median, min–max)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| corpus | scenario | program | wall | CPU (user+sys) | peak RSS | repository growth | throughput |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rep.Results {
		for _, p := range []string{"arca", "restic"} {
			if len(r.Samples[p]) == 0 {
				fmt.Fprintf(w, "| %s | %s | %s | %s: %s | | | | |\n", r.Corpus, r.Name, p, r.Status[p], mdEscape(r.Error[p]))
				continue
			}
			repo, tp := "–", "–"
			if r.hasRepoDelta(p) {
				repo = r.of(p, repoMiB).fmt("MiB", 1)
			}
			if x := r.throughput(p); x > 0 {
				tp = fmt.Sprintf("%.0f MB/s", x)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Corpus, r.Name, p, r.of(p, wallSeconds).fmt("s", 2), r.of(p, cpuSeconds).fmt("s", 2), r.of(p, rssMiB).fmt("MiB", 0), repo, tp)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Scenarios")
	fmt.Fprintln(w)
	seen := map[string]bool{}
	for _, r := range rep.Results {
		if !seen[r.Name] {
			seen[r.Name] = true
			fmt.Fprintf(w, "- **%s**: %s\n", r.Name, r.About)
		}
	}
}

// unavailable says which program could not run a scenario and why.
func (r scenarioResult) unavailable() string {
	var parts []string
	for _, p := range []string{"arca", "restic"} {
		if r.Status[p] != statusOK || len(r.Samples[p]) == 0 {
			parts = append(parts, p+" "+r.Status[p])
		}
	}
	return strings.Join(parts, ", ")
}

func mdEscape(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", `\|`)
}

// write stores report.md, report.json and report.svg in dir and prints the
// Markdown to stdout.
func (rep *report) write(dir string, stdout io.Writer) error {
	rep.Date = time.Now().UTC()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md strings.Builder
	rep.markdown(&md)
	fmt.Fprint(stdout, md.String())
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	buf, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), buf, 0o644); err != nil {
		return err
	}
	var svg strings.Builder
	rep.svg(&svg)
	return os.WriteFile(filepath.Join(dir, "report.svg"), []byte(svg.String()), 0o644)
}
