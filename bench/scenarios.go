package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/arca-backup/arca/crypto"
)

// benchEnv is the shared state of one harness run.
type benchEnv struct {
	cfg      config
	store    *store
	password string
	progress *progressBar
	corpus   *corpusSet
	// built holds the templates built so far (name → repository name).
	built map[string]string
	// key describes the scrypt parameters of the templates' key
	key string
	// restored lists the directories the current scenario restored into,
	// which runScenario removes when the scenario ends (see restore)
	restored []string
}

// scenario is one measured operation. run performs it once with prog;
// bytes is the amount of data the operation processes, for throughput
// (0: throughput means nothing for it).
type scenario struct {
	about string
	run   func(ctx context.Context, e *benchEnv, prog program, round int) (sample, error)
	bytes func(c *corpusSet) int64
	// edits: the scenario needs the corpus's edited state, which a
	// -source directory does not have
	edits bool
}

// scenarioOrder is the order scenarios run and are reported in.
var scenarioOrder = []string{
	"init", "backup", "backup-off", "backup-max", "backup-incremental", "backup-unchanged",
	"restore", "check", "check-read-data", "forget", "prune",
}

func scenarioNames() []string { return append([]string(nil), scenarioOrder...) }

// editingScenarios lists the scenarios that need the edited corpus.
func editingScenarios() []string {
	var names []string
	for _, n := range scenarioOrder {
		if scenarios[n].edits {
			names = append(names, n)
		}
	}
	return names
}

// corpusSet is a generated corpus in its two states: the original ("base")
// and the edited one, which shares the unchanged files by hard links. The
// programs always back up the same path, <root>/corpus; activate renames
// the wanted state there, so the files keep their inodes and ctimes and a
// backup of an unchanged state finds every file unchanged.
//
// A corpus from -source is a directory the user gave: it has only its
// base state, which stays where it is.
type corpusSet struct {
	kind   string
	root   string
	source string // the directory of a -source corpus
	active string
	stats  corpusStats
	edits  editStats
}

func (c *corpusSet) dir() string {
	if c.source != "" {
		return c.source
	}
	return filepath.Join(c.root, "corpus")
}

// activate puts state ("base" or "edited") at c.dir().
func (c *corpusSet) activate(state string) error {
	if c.active == state {
		return nil
	}
	if c.source != "" {
		return fmt.Errorf("a -source directory has no %s state", state)
	}
	if c.active != "" {
		if err := os.Rename(c.dir(), filepath.Join(c.root, c.active)); err != nil {
			return err
		}
	}
	if err := os.Rename(filepath.Join(c.root, state), c.dir()); err != nil {
		return err
	}
	c.active = state
	return nil
}

// prepareCorpus generates corpus kind with its edited copy under root.
func prepareCorpus(kind string, root string, size int64, seed uint64) (*corpusSet, error) {
	c := &corpusSet{kind: kind, root: root}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	base := filepath.Join(root, "base")
	st, err := corpusKinds[kind].generate(base, size, seed)
	if err != nil {
		return nil, fmt.Errorf("generate %s corpus: %w", kind, err)
	}
	c.stats = st
	edited := filepath.Join(root, "edited")
	if err := linkTree(base, edited); err != nil {
		return nil, err
	}
	if c.edits, err = applyEdits(edited, seed); err != nil {
		return nil, fmt.Errorf("edit %s corpus: %w", kind, err)
	}
	return c, c.activate("base")
}

// sourceCorpus is the kind of the corpus of a -source run.
const sourceCorpus = "source"

// openSource makes the directory dir a corpus, counting its regular files
// and their bytes.
func openSource(dir string) (*corpusSet, error) {
	st, err := countFiles(dir)
	if err != nil {
		return nil, err
	}
	return &corpusSet{kind: sourceCorpus, source: dir, active: "base", stats: st}, nil
}

// run executes one command of prog against repository repoName (global
// options first) in dir and measures it. Without -cache the programs run
// with --no-cache; with it, they share one cache in the work directory.
func (e *benchEnv) run(ctx context.Context, bin, repoName, dir string, args ...string) (sample, error) {
	env := []string{"RESTIC_PASSWORD=" + e.password, "RESTIC_REPOSITORY=" + e.store.location(repoName), "RESTIC_CACHE_DIR=" + filepath.Join(e.cfg.workDir, "cache")}
	full := append(append([]string(nil), e.store.resticArgs()...), "-q")
	if !e.cfg.cache {
		full = append(full, "--no-cache")
	}
	full = append(full, args...)
	// The repository's files (where they are on this machine) and the
	// corpus a backup reads come from the page cache, for both programs.
	if d, ok := e.store.dir(repoName); ok {
		if _, err := readThrough(d); err != nil {
			return sample{}, err
		}
	}
	if e.corpus != nil && dir == e.corpus.dir() {
		if _, err := readThrough(dir); err != nil {
			return sample{}, err
		}
	}
	// The previous run's repository was just removed and this run's copied
	// in; on a file system mounted with online discard the freed blocks are
	// discarded at the next journal commit, in the middle of this run's
	// fsync'd writes. Settle the disk first so a run pays only for itself.
	syscall.Sync()
	return measure(ctx, bin, env, dir, full...)
}

// warm has prog list the latest snapshot of repository repoName, not
// timed, when the programs run with a cache (-cache): a nightly backup
// finds the cache as the previous night's left it, with the repository's
// index, snapshots and trees, and the key file that opened it (arca).
func (e *benchEnv) warm(ctx context.Context, prog program, repoName string) error {
	if !e.cfg.cache {
		return nil
	}
	if _, err := e.run(ctx, prog.Bin, repoName, e.cfg.workDir, "ls", "latest"); err != nil {
		return fmt.Errorf("warm the cache: %w", err)
	}
	return nil
}

// runWrites is run plus the repository's size change.
func (e *benchEnv) runWrites(ctx context.Context, bin, repoName, dir string, args ...string) (sample, error) {
	before, ok := e.store.size(repoName)
	s, err := e.run(ctx, bin, repoName, dir, args...)
	if err == nil && ok {
		after, _ := e.store.size(repoName)
		d := after - before
		s.RepoDelta = &d
	}
	return s, err
}

// restic runs an unmeasured preparation command with the restic binary.
func (e *benchEnv) restic(ctx context.Context, repoName string, args ...string) error {
	_, err := e.run(ctx, e.cfg.resticBin, repoName, e.corpus.dir(), args...)
	if err != nil {
		return fmt.Errorf("prepare with restic: %w", err)
	}
	return nil
}

// template is a repository state that scenarios start from, written by
// restic: from another template plus steps.
type template struct {
	from  string
	steps func(ctx context.Context, e *benchEnv, repoName string) error
}

var templates = map[string]template{
	// an empty repository
	"empty": {steps: func(ctx context.Context, e *benchEnv, repo string) error {
		if err := e.restic(ctx, repo, "init"); err != nil {
			return err
		}
		if e.cfg.afterInit != nil && e.store.local() {
			if err := e.cfg.afterInit(e.store.location(repo), e.password); err != nil {
				return err
			}
		}
		if p := e.cfg.scryptP; p > 0 {
			params := crypto.Params{N: 1 << 15, R: 8, P: p}
			if err := rekey(ctx, e.store.location(repo), e.store.opts, e.password, params); err != nil {
				return err
			}
		}
		// every other template is made from this one and has its key
		var err error
		e.key, err = keyParams(ctx, e.store.location(repo), e.store.opts)
		return err
	}},
	// one snapshot of the corpus
	"base": {from: "empty", steps: func(ctx context.Context, e *benchEnv, repo string) error {
		return e.backupStates(ctx, repo, "base")
	}},
	// four snapshots: base, edited, base, edited
	"multi": {from: "base", steps: func(ctx context.Context, e *benchEnv, repo string) error {
		return e.backupStates(ctx, repo, "edited", "base", "edited")
	}},
	// multi after forget --keep-last 1
	"forgotten": {from: "multi", steps: func(ctx context.Context, e *benchEnv, repo string) error {
		return e.restic(ctx, repo, "forget", "--keep-last", "1")
	}},
}

func (e *benchEnv) backupStates(ctx context.Context, repo string, states ...string) error {
	for _, st := range states {
		if err := e.corpus.activate(st); err != nil {
			return err
		}
		if err := e.restic(ctx, repo, "backup", "."); err != nil {
			return err
		}
	}
	return nil
}

// templateKey names template t built for the current corpus.
func (e *benchEnv) templateKey(t string) string {
	if t == "empty" {
		return t
	}
	return e.corpus.kind + "-" + t
}

// build writes template t into repository repoName (which must not exist).
func (e *benchEnv) build(ctx context.Context, t, repoName string) error {
	tp := templates[t]
	if tp.from != "" {
		// a copy of the template it starts from: every template then has
		// the key of the one restic init wrote
		if _, err := e.fresh(ctx, tp.from, repoName); err != nil {
			return err
		}
	}
	return tp.steps(ctx, e, repoName)
}

// shared returns a repository in state t that is built once and used by
// every round: for read-only scenarios, and as the source of local copies.
func (e *benchEnv) shared(ctx context.Context, t string) (string, error) {
	key := e.templateKey(t)
	if name, ok := e.built[key]; ok {
		return name, nil
	}
	name := "templates/" + key
	e.progress.note("preparing repository " + key + " with restic")
	e.store.remove(name)
	if err := e.build(ctx, t, name); err != nil {
		return "", fmt.Errorf("template %s: %w", key, err)
	}
	e.built[key] = name
	return name, nil
}

// fresh returns a new repository called name in state t for one run: a
// copy of the shared template, hard-linked when local (repository files
// are never changed in place, only added and removed, so the copy is
// independent), copied file by file when remote (copyRepo). Neither is
// measured.
func (e *benchEnv) fresh(ctx context.Context, t, name string) (string, error) {
	e.store.remove(name)
	src, err := e.shared(ctx, t)
	if err != nil {
		return "", err
	}
	if e.store.local() {
		return name, linkTree(e.store.location(src), e.store.location(name))
	}
	return name, copyRepo(ctx, e.store.location(src), e.store.location(name), e.store.opts)
}

// scenarioResult holds the samples of one scenario on one corpus.
type scenarioResult struct {
	Name    string              `json:"name"`
	Corpus  string              `json:"corpus"`
	About   string              `json:"about"`
	Bytes   int64               `json:"bytes"`
	Samples map[string][]sample `json:"samples"`
	// Status is "ok", "not available" (the program lacks the command,
	// flag or backend) or "failed", per program; Error explains the last
	// two.
	Status map[string]string `json:"status"`
	Error  map[string]string `json:"error,omitempty"`
}

const (
	statusOK           = "ok"
	statusNotAvailable = "not available"
	statusFailed       = "failed"
)

// runScenarios prepares each corpus and runs every chosen scenario on it,
// alternating the programs each round (arca first in odd rounds, restic
// first in even ones). A program that lacks a command is marked "not
// available" for that scenario; a run that fails is marked "failed"; the
// harness goes on either way.
func runScenarios(ctx context.Context, cfg config) (*report, error) {
	st, err := newStore(cfg.backend, cfg.workDir, fmt.Sprintf("%d", time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	e := &benchEnv{cfg: cfg, store: st, password: "bench-password", built: map[string]string{}}
	progs := []program{{"arca", cfg.arcaBin}, {"restic", cfg.resticBin}}
	e.progress = newProgressBar(cfg.stderr, len(cfg.corpora)*len(cfg.scenarios)*cfg.rounds*len(progs))
	var source *corpusSet
	if cfg.source != "" {
		e.progress.note("counting the files of " + cfg.source)
		if source, err = openSource(cfg.source); err != nil {
			return nil, err
		}
	}
	e.progress.note(fmt.Sprintf("estimated duration: %s (restic-like speeds on an idle machine of this kind)", estimate(cfg, source).Round(time.Second)))
	rep := &report{Seed: cfg.seed, Rounds: cfg.rounds, Backend: cfg.backend, Cache: cfg.cache, Restic: cfg.resticBin, Machine: collectMachineInfo(ctx, cfg.resticBin, cfg.arcaBin)}
	for _, kind := range cfg.corpora {
		c := source
		if kind != sourceCorpus {
			e.progress.note(fmt.Sprintf("generating the %s corpus (%s)", kind, fmtBytes(cfg.size)))
			if c, err = prepareCorpus(kind, filepath.Join(cfg.workDir, "corpus-"+kind), cfg.size, cfg.seed); err != nil {
				return nil, err
			}
		}
		e.corpus = c
		info := corpusInfo{Kind: kind, Stats: c.stats, Edits: c.edits}
		if c.source != "" {
			info.About, info.Source = "the directory "+c.source+", backed up in place", c.source
			e.progress.note(fmt.Sprintf("%s: %d files, %s", c.source, c.stats.Files, fmtBytes(c.stats.Bytes)))
		} else {
			info.About = corpusKinds[kind].about
			e.progress.note(fmt.Sprintf("%s: %d files, %s; edits: %s", kind, c.stats.Files, fmtBytes(c.stats.Bytes), c.edits))
		}
		rep.Corpora = append(rep.Corpora, info)
		for _, name := range cfg.scenarios {
			res, err := e.runScenario(ctx, name, progs)
			if err != nil {
				return nil, err
			}
			rep.Results = append(rep.Results, res)
		}
		if !cfg.keep {
			if c.source == "" {
				_ = os.RemoveAll(c.root)
			}
			for key, repo := range e.built {
				if key != "empty" {
					e.store.remove(repo)
					delete(e.built, key)
				}
			}
		}
	}
	if !cfg.keep {
		e.store.remove("") // the whole run's repositories, also on a server
	}
	rep.Key = e.key
	e.progress.done()
	return rep, nil
}

func (e *benchEnv) runScenario(ctx context.Context, name string, progs []program) (scenarioResult, error) {
	sc := scenarios[name]
	res := scenarioResult{Name: name, Corpus: e.corpus.kind, About: sc.about, Bytes: sc.bytes(e.corpus),
		Samples: map[string][]sample{}, Status: map[string]string{}, Error: map[string]string{}}
	for _, p := range progs {
		res.Status[p.Name] = statusOK
	}
	defer func() {
		for _, d := range e.restored {
			_ = os.RemoveAll(d)
		}
		e.restored = nil
	}()
	for round := 0; round < e.cfg.rounds; round++ {
		order := progs
		if round%2 == 1 {
			order = []program{progs[1], progs[0]}
		}
		for _, p := range order {
			e.progress.step(fmt.Sprintf("%s/%s: %s round %d", e.corpus.kind, name, p.Name, round+1))
			if res.Status[p.Name] != statusOK {
				continue
			}
			s, err := sc.run(ctx, e, p, round)
			switch {
			case err == nil:
				res.Samples[p.Name] = append(res.Samples[p.Name], s)
			case ctx.Err() != nil:
				return res, ctx.Err()
			case notAvailable(err):
				res.Status[p.Name] = statusNotAvailable
				res.Error[p.Name] = firstLine(err)
				e.progress.note(fmt.Sprintf("%s: %s not available: %s", name, p.Name, firstLine(err)))
			default:
				res.Status[p.Name] = statusFailed
				res.Error[p.Name] = err.Error()
				e.progress.note(fmt.Sprintf("%s: %s FAILED: %v", name, p.Name, err))
			}
		}
	}
	return res, nil
}

// firstLine is the gist of a run error: the program's last output line.
func firstLine(err error) string {
	var re *runError
	if errors.As(err, &re) {
		lines := strings.Split(strings.TrimSpace(re.output), "\n")
		return re.cmd + ": " + strings.TrimSpace(lines[len(lines)-1])
	}
	return err.Error()
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}
