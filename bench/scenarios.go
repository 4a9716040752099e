package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// benchEnv is the shared state of one harness run.
type benchEnv struct {
	cfg      config
	corpus   string
	stats    corpusStats
	password string
	// resticRepo is a repository written by restic from the corpus.
	resticRepo string
	progress   *progressBar
}

func (e *benchEnv) env(repoDir string) []string {
	return []string{"RESTIC_PASSWORD=" + e.password, "RESTIC_REPOSITORY=" + repoDir, "RESTIC_CACHE_DIR=" + filepath.Join(e.cfg.workDir, "cache")}
}

// scenario is one measured operation. run performs it once with prog and
// returns the measurement; bytes is the amount of data the operation
// processes, for throughput.
type scenario struct {
	about string
	needs []string // preparation steps
	run   func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error)
	bytes func(e *benchEnv) int64
}

var scenarios = map[string]scenario{
	"restore": {
		about: "restore the latest snapshot of a restic-written repository into an empty directory",
		needs: []string{"corpus", "restic-repo"},
		run: func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error) {
			target := filepath.Join(e.cfg.workDir, fmt.Sprintf("restore-%s-%d", prog.Name, round))
			defer os.RemoveAll(target)
			return measure(ctx, prog.Bin, e.env(e.resticRepo), e.cfg.workDir, "--no-cache", "-q", "restore", "latest", "--target", target)
		},
		bytes: func(e *benchEnv) int64 { return e.stats.Bytes },
	},
}

func scenarioNames() []string {
	var names []string
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// prepare runs the preparation steps the chosen scenarios need, once.
func (e *benchEnv) prepare(ctx context.Context, steps map[string]bool) error {
	if steps["corpus"] {
		e.corpus = filepath.Join(e.cfg.workDir, "corpus")
		e.progress.note("generating corpus")
		st, err := generateMixed(e.corpus, e.cfg.size, e.cfg.seed)
		if err != nil {
			return fmt.Errorf("generate corpus: %w", err)
		}
		e.stats = st
	}
	if steps["restic-repo"] {
		e.resticRepo = filepath.Join(e.cfg.workDir, "restic-repo")
		e.progress.note("backing up the corpus with restic")
		if _, err := measure(ctx, e.cfg.resticBin, e.env(e.resticRepo), e.corpus, "init"); err != nil {
			return err
		}
		if _, err := measure(ctx, e.cfg.resticBin, e.env(e.resticRepo), e.corpus, "--no-cache", "backup", "."); err != nil {
			return err
		}
	}
	return nil
}

// runScenarios prepares and runs every chosen scenario, alternating the
// programs each round (restic first in odd rounds, arca first in even ones).
func runScenarios(ctx context.Context, cfg config) (*report, error) {
	e := &benchEnv{cfg: cfg, password: "bench-password"}
	progs := []program{{"arca", cfg.arcaBin}, {"restic", cfg.resticBin}}
	total := len(cfg.scenarios) * cfg.rounds * len(progs)
	e.progress = newProgressBar(os.Stderr, total)
	steps := map[string]bool{}
	for _, name := range cfg.scenarios {
		for _, s := range scenarios[name].needs {
			steps[s] = true
		}
	}
	if err := e.prepare(ctx, steps); err != nil {
		return nil, err
	}
	rep := &report{Corpus: e.stats, Seed: cfg.seed, Rounds: cfg.rounds, Restic: cfg.resticBin}
	for _, name := range cfg.scenarios {
		sc := scenarios[name]
		res := scenarioResult{Name: name, About: sc.about, Samples: map[string][]sample{}}
		for round := 0; round < cfg.rounds; round++ {
			order := progs
			if round%2 == 1 {
				order = []program{progs[1], progs[0]}
			}
			for _, p := range order {
				e.progress.step(fmt.Sprintf("%s: %s round %d", name, p.Name, round+1))
				s, err := sc.run(ctx, e, p, round)
				if err != nil {
					return nil, fmt.Errorf("%s with %s: %w", name, p.Name, err)
				}
				res.Samples[p.Name] = append(res.Samples[p.Name], s)
			}
		}
		res.Bytes = sc.bytes(e)
		rep.Results = append(rep.Results, res)
	}
	e.progress.done()
	return rep, nil
}
