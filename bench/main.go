// Command bench measures arca against a restic binary on the same data in
// the same run. It generates a deterministic corpus from a seed, prepares
// repositories, then runs each scenario with both programs, alternating
// them over several rounds, and reports medians, ranges and arca/restic
// ratios for wall time, CPU time and peak memory.
//
//	go run ./bench -restic $(which restic) -size 512MiB -rounds 3 restore
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
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
	scenarios []string
	keep      bool
}

func run(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var cfg config
	var size string
	fs.StringVar(&cfg.resticBin, "restic", os.Getenv("RESTIC_BIN"), "restic-compatible binary to compare against (default $RESTIC_BIN or restic in PATH)")
	fs.StringVar(&cfg.arcaBin, "arca", "", "arca binary (default: build ./cmd/arca)")
	fs.StringVar(&cfg.workDir, "work", "", "directory for corpora and repositories (default: a temporary directory)")
	fs.StringVar(&cfg.outDir, "out", "bench/out", "directory for the report (report.md, report.json)")
	fs.StringVar(&size, "size", "256MiB", "corpus size")
	fs.Uint64Var(&cfg.seed, "seed", 1, "corpus seed")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds per scenario and program")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the work directory")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench [flags] [scenario...]\nscenarios: %s (default: all)\n", strings.Join(scenarioNames(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.size, err = parseSize(size); err != nil {
		return err
	}
	cfg.scenarios = fs.Args()
	if len(cfg.scenarios) == 0 {
		cfg.scenarios = scenarioNames()
	}
	for _, s := range cfg.scenarios {
		if _, ok := scenarios[s]; !ok {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(scenarioNames(), ", "))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

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
	if cfg.resticBin, err = findRestic(cfg.resticBin); err != nil {
		return err
	}
	if cfg.arcaBin == "" {
		if cfg.arcaBin, err = buildArca(ctx, filepath.Join(cfg.workDir, "bin")); err != nil {
			return err
		}
	}
	rep, err := runScenarios(ctx, cfg)
	if err != nil {
		return err
	}
	return rep.write(cfg.outDir)
}
