// Command bench measures arca against a restic binary on the same data in
// the same run. It generates deterministic corpora from a seed (or reads a
// directory given with -source in place), prepares repositories with
// restic, then runs each scenario with both programs, alternating them
// over several rounds, and reports medians, ranges and arca/restic ratios
// of wall time, CPU time, peak memory and repository growth as Markdown,
// JSON and an SVG chart.
//
//	go run ./bench -restic $(which restic)                      # the full default run
//	go run ./bench -restic $(which restic) -size 64MiB -rounds 1 -corpus small-files,huge-file restore prune
//	go run ./bench -restic $(which restic) -backend sftp backup  # after eval "$(scripts/testservers/start-sftp.sh)"
//	go run ./bench -restic $(which restic) -source ~/photos      # your own data, read in place
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	if os.Getenv(measureChildEnv) == "1" {
		os.Exit(runMeasuringChild(os.Args[1:]))
	}
	if err := run(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config holds the command line.
type config struct {
	resticBin string
	arcaBin   string
	workDir   string
	outDir    string
	size      int64
	seed      uint64
	rounds    int
	corpora   []string
	// source, when set, is a directory benchmarked in place instead of
	// generated corpora (see sourceCorpus)
	source    string
	backend   string
	scenarios []string
	keep      bool
	// cache runs the programs with their local cache (see benchEnv.run)
	cache bool
	// scryptP, when positive, replaces the first template's key by one
	// with scrypt N=2^15, r=8 and this p (see rekey)
	scryptP int
	// stdout receives the Markdown report, stderr the progress.
	stdout, stderr io.Writer
	// afterInit, when set, is called on every local repository the harness
	// initialises for preparation (tests use it to cheapen the key).
	afterInit func(repoDir, password string) error
}

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := config{stdout: os.Stdout, stderr: os.Stderr}
	var size, corpora string
	fs.StringVar(&cfg.resticBin, "restic", os.Getenv("RESTIC_BIN"), "restic binary to compare against (default $RESTIC_BIN or restic in PATH)")
	fs.StringVar(&cfg.arcaBin, "arca", "", "arca binary (default: build ./cmd/arca)")
	fs.StringVar(&cfg.workDir, "work", "", "directory for corpora and repositories (default: a temporary directory)")
	fs.StringVar(&cfg.outDir, "out", "bench/out", "directory for the report (report.md, report.json, report.svg)")
	fs.StringVar(&size, "size", "1GiB", "size of each corpus")
	fs.Uint64Var(&cfg.seed, "seed", 1, "corpus seed")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds per scenario and program")
	fs.StringVar(&corpora, "corpus", "mixed", "corpus kinds, comma-separated: "+strings.Join(corpusNames(), ", "))
	fs.StringVar(&cfg.source, "source", "", "benchmark on this directory instead of generated corpora: it is backed up in place and never changed, so the scenarios that edit a corpus ("+strings.Join(editingScenarios(), ", ")+") do not run; -corpus, -size and -seed do not apply")
	fs.StringVar(&cfg.backend, "backend", "local", "repository kind: "+strings.Join(storeKinds, ", ")+" (remote ones use the servers of scripts/testservers)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory")
	fs.BoolVar(&cfg.cache, "cache", false, "run the programs with a local cache (one, in the work directory) instead of --no-cache; a program first lists the latest snapshot of a repository it measures a command on (not timed), as the night before a nightly backup")
	fs.IntVar(&cfg.scryptP, "scrypt-p", 0, "replace the key restic init wrote (whose p restic calibrates anew each time, 1 to 4 here) by one with the same master key and scrypt N=2^15, r=8 and this p, so that runs at different times meet the same key cost (0: keep restic's)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench [flags] [scenario...]\nscenarios (default: all):\n")
		for _, n := range scenarioOrder {
			fmt.Fprintf(fs.Output(), "  %-20s %s\n", n, scenarios[n].about)
		}
		fmt.Fprintf(fs.Output(), "corpora:\n")
		for _, n := range corpusNames() {
			fmt.Fprintf(fs.Output(), "  %-20s %s\n", n, corpusKinds[n].about)
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.size, err = parseSize(size); err != nil {
		return cfg, err
	}
	if cfg.rounds < 1 {
		return cfg, fmt.Errorf("-rounds must be at least 1")
	}
	for _, k := range strings.Split(corpora, ",") {
		if _, ok := corpusKinds[k]; !ok {
			return cfg, fmt.Errorf("unknown corpus %q (have %s)", k, strings.Join(corpusNames(), ", "))
		}
		cfg.corpora = append(cfg.corpora, k)
	}
	cfg.scenarios = fs.Args()
	for _, s := range cfg.scenarios {
		if _, ok := scenarios[s]; !ok {
			return cfg, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(scenarioNames(), ", "))
		}
	}
	if cfg.source != "" {
		return useSource(fs, cfg)
	}
	if len(cfg.scenarios) == 0 {
		cfg.scenarios = scenarioNames()
	}
	return cfg, nil
}

// useSource completes a configuration with -source: the one corpus is the
// directory, and the scenarios are those that do not edit it.
func useSource(fs *flag.FlagSet, cfg config) (config, error) {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "corpus" || f.Name == "size" || f.Name == "seed" {
			err = fmt.Errorf("-source and -%s exclude each other", f.Name)
		}
	})
	if err != nil {
		return cfg, err
	}
	if cfg.source, err = filepath.Abs(cfg.source); err != nil {
		return cfg, err
	}
	if fi, err := os.Stat(cfg.source); err != nil {
		return cfg, fmt.Errorf("-source: %w", err)
	} else if !fi.IsDir() {
		return cfg, fmt.Errorf("-source: %s is not a directory", cfg.source)
	}
	cfg.corpora = []string{sourceCorpus}
	if len(cfg.scenarios) == 0 {
		cfg.scenarios = slices.DeleteFunc(scenarioNames(), func(s string) bool { return scenarios[s].edits })
		return cfg, nil
	}
	for _, s := range cfg.scenarios {
		if scenarios[s].edits {
			return cfg, fmt.Errorf("scenario %s edits the corpus, so it does not run on a -source directory", s)
		}
	}
	return cfg, nil
}

func run(args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return runConfig(ctx, cfg)
}

// runConfig runs the harness and writes the report. It fails when a run
// failed (not when a program lacks a command), after writing the report.
func runConfig(ctx context.Context, cfg config) error {
	var err error
	if cfg.workDir == "" {
		d, err := os.MkdirTemp("", "arca-bench-")
		if err != nil {
			return err
		}
		cfg.workDir = d
		if !cfg.keep {
			defer os.RemoveAll(d)
		}
	}
	if cfg.workDir, err = filepath.Abs(cfg.workDir); err != nil {
		return err
	}
	if cfg.source != "" && (within(cfg.source, cfg.workDir) || within(cfg.workDir, cfg.source)) {
		return fmt.Errorf("the -source directory %s and the work directory %s must not contain each other", cfg.source, cfg.workDir)
	}
	if cfg.resticBin, err = findRestic(cfg.resticBin); err != nil {
		return err
	}
	if cfg.arcaBin == "" {
		if cfg.arcaBin, err = buildArca(ctx, filepath.Join(cfg.workDir, "bin")); err != nil {
			return err
		}
	} else if cfg.arcaBin, err = resolveBinary(cfg.arcaBin); err != nil {
		return fmt.Errorf("arca binary: %w", err)
	}
	rep, err := runScenarios(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.write(cfg.outDir, cfg.stdout); err != nil {
		return err
	}
	if n := rep.failures(); n > 0 {
		return fmt.Errorf("%d scenario runs failed (see the report)", n)
	}
	return nil
}

// within tells whether path is dir or below it (both absolute and clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
