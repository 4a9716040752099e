package main

import "time"

// assumedRate is roughly how fast restic runs each scenario on an idle
// 2-core machine of the project's kind, in MB/s of corpus data, plus a
// fixed cost per run (process start, key derivation, index loading) and a
// cost per file. Only the duration estimate printed at the start uses it.
var assumedRate = map[string]struct {
	mbps    float64
	fixed   time.Duration
	perFile time.Duration
}{
	"init":               {0, 1500 * time.Millisecond, 0},
	"backup":             {120, time.Second, 40 * time.Microsecond},
	"backup-off":         {180, time.Second, 40 * time.Microsecond},
	"backup-max":         {30, time.Second, 40 * time.Microsecond},
	"backup-incremental": {800, 2 * time.Second, 15 * time.Microsecond},
	"backup-unchanged":   {2000, time.Second, 10 * time.Microsecond},
	"restore":            {250, time.Second, 40 * time.Microsecond},
	"check":              {0, 1500 * time.Millisecond, 0},
	"check-read-data":    {250, time.Second, 0},
	"forget":             {0, 1500 * time.Millisecond, 0},
	"prune":              {1000, 3 * time.Second, 0},
}

// estimate guesses the duration of a run of cfg: corpus generation,
// preparation with restic, and every scenario, round and program. source
// is the corpus of a -source run (nil for generated ones).
func estimate(cfg config, source *corpusSet) time.Duration {
	mb := float64(cfg.size) / 1e6
	if source != nil {
		mb = float64(source.stats.Bytes) / 1e6
	}
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	var total time.Duration
	for _, kind := range cfg.corpora {
		files := cfg.size / (128 << 10)
		switch {
		case source != nil:
			files = int64(source.stats.Files)
		case kind == "small-files":
			files = cfg.size / (8 << 10)
		}
		cost := func(name string) time.Duration {
			r := assumedRate[name]
			d := r.fixed + time.Duration(files)*r.perFile
			if r.mbps > 0 {
				d += secs(mb / r.mbps)
			}
			return d
		}
		if source != nil {
			total += cost("backup") // the one template with a snapshot
		} else {
			total += secs(mb/150) + cost("backup") + 3*cost("backup-incremental") // corpus and templates
		}
		for _, s := range cfg.scenarios {
			total += time.Duration(2*cfg.rounds) * cost(s)
		}
	}
	return total
}
