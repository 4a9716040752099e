package main

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/arca-backup/arca/backend/local"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
)

// fixtureIDs are IDs inside a fixture's latest snapshot that find looks for.
type fixtureIDs struct {
	textTree  model.ID // tree of /src/text
	rootTree  model.ID
	helloBlob model.ID // content of /src/text/lorem.txt (one blob)
	bigBlob   model.ID // a blob of /src/random.bin
	dataPack  model.ID // pack holding helloBlob
	treePack  model.ID // pack holding textTree
}

// lookupFixtureIDs opens the fixture repository with arca's engine and
// reads the IDs from the latest snapshot's trees.
func lookupFixtureIDs(t *testing.T, f *resticFixture) fixtureIDs {
	t.Helper()
	ctx := context.Background()
	be, err := local.Open(ctx, f.Repo)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	r, err := repo.Open(ctx, be, f.Password, repo.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	sn, err := r.LoadSnapshot(ctx, mustParseID(t, f.Snapshots[len(f.Snapshots)-1].ID))
	if err != nil {
		t.Fatal(err)
	}
	var ids fixtureIDs
	ids.rootTree = *sn.Tree
	if ids.textTree, err = r.SubtreeID(ctx, *sn.Tree, "src/text"); err != nil {
		t.Fatal(err)
	}
	text, err := r.LoadTree(ctx, ids.textTree)
	if err != nil {
		t.Fatal(err)
	}
	ids.helloBlob = text.Find("lorem.txt").Content[0]
	srcID, err := r.SubtreeID(ctx, *sn.Tree, "src")
	if err != nil {
		t.Fatal(err)
	}
	src, err := r.LoadTree(ctx, srcID)
	if err != nil {
		t.Fatal(err)
	}
	ids.bigBlob = src.Find("random.bin").Content[1]
	ids.dataPack = r.Index().Lookup(model.BlobHandle{ID: ids.helloBlob, Type: model.DataBlob})[0].PackID
	ids.treePack = r.Index().Lookup(model.BlobHandle{ID: ids.textTree, Type: model.TreeBlob})[0].PackID
	return ids
}

func mustParseID(t *testing.T, s string) model.ID {
	t.Helper()
	id, err := model.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// sortedLines normalizes output whose line order restic leaves to map
// iteration.
func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestFindInterop compares arca's find with restic's: patterns (with
// --ignore-case, --long, time limits, snapshot and host filters), --json,
// and looking up blob, tree and pack IDs.
func TestFindInterop(t *testing.T) {
	resticBin(t)
	for i, opts := range lsFindDumpRepoSets {
		t.Run(opts.String(), func(t *testing.T) {
			t.Parallel()
			f := resticRepoFixture(t, opts)
			ids := lookupFixtureIDs(t, f)
			first := f.Snapshots[0].ID
			cases := [][]string{
				{"find", "*.txt", "hello*"},
				{"find", "--long", "-i", "*LOREM*", "/src/MODES"},
				{"find", "--blob", ids.helloBlob.Str(), ids.bigBlob.String()},
				{"find", "--tree", ids.textTree.String()},
			}
			if i == 1 { // the rest on one repository: each case runs both programs
				cases = append(cases, [][]string{
					{"find", "/src/text", "src/deep/**/leaf.txt"},
					{"find", "-l", "--human-readable", "random.bin", "*.img"},
					{"find", "--oldest", "2021-01-01", "--newest", "2022-06-01 12:00", "*"},
					{"find", "--newest", "02.01.2021", "-l", "*.txt"},
					{"find", "-s", first[:8], "-s", "latest", "added-*"},
					{"find", "--reverse", "--host", "arca-host-a", "hello.txt"},
					{"find", "--tag", "manual", "f-00*"},
					{"find", "--path", "/nonexistent", "*"},
					{"find", "--quiet", "*.sh"},
					{"find", "no-such-file"},
					{"find", "--blob", ids.helloBlob.String()[:12]},
					{"find", "--tree", ids.rootTree.Str(), ids.textTree.Str()},
					{"find", "--show-pack-id", "--blob", ids.helloBlob.Str()},
					{"find", "--show-pack-id", "--tree", ids.textTree.String()},
					{"find", "--pack", ids.treePack.Str()},
					// errors
					{"find"},
					{"find", "--blob", "--tree", "x"},
					{"find", "--oldest", "yesterday", "*"},
					{"find", "--oldest", "2022-01-01", "--newest", "2021-01-01", "*"},
					{"find", "--pack", "00000000"},
				}...)
			}
			for _, args := range cases {
				sameAsRestic(t, f, nil, args...)
			}

			// the pack's blobs come out in index order: compare as sets
			args := []string{"find", "--pack", ids.dataPack.String()}
			ro, _, rexit := runRestic(t, append(f.Env(), "TZ=UTC"), args...)
			ao, ae, aexit := arcaOnRepo(t, f, args...)
			if rexit != 0 || aexit != 0 {
				t.Errorf("find --pack: exit restic %d, arca %d: %s", rexit, aexit, ae)
			}
			if sortedLines(string(ro)) != sortedLines(ao) {
				t.Errorf("find --pack: output differs\n%s", lineDiff(sortedLines(string(ro)), sortedLines(ao)))
			}

			// --json: identical, and the same when parsed
			jsonCases := [][]string{
				{"find", "--json", "*.txt", "/src/symlinks/*"},
				{"find", "--json", "--blob", ids.helloBlob.String(), ids.bigBlob.Str()},
			}
			if i == 1 {
				jsonCases = append(jsonCases, [][]string{
					{"find", "--json", "--tree", ids.textTree.Str(), ids.rootTree.String()},
					{"find", "--json", "nothing-matches"},
					{"find", "--json", "-s", first, "--oldest", "2020-06-01", "*.txt"},
				}...)
			}
			for _, args := range jsonCases {
				rout, aout := sameAsRestic(t, f, nil, args...)
				var r, a any
				if err := json.Unmarshal([]byte(rout), &r); err != nil {
					t.Fatalf("restic %s: %v", strings.Join(args, " "), err)
				}
				if err := json.Unmarshal([]byte(aout), &a); err != nil {
					t.Fatalf("arca %s: not JSON: %v\n%s", strings.Join(args, " "), err, aout)
				}
				if !reflect.DeepEqual(r, a) {
					t.Errorf("%s: parsed JSON differs", strings.Join(args, " "))
				}
			}
		})
	}
}

// TestFindGroupsBySnapshot checks find's grouping without restic: every
// snapshot holding a match gets its own group, newest first.
func TestFindGroupsBySnapshot(t *testing.T) {
	resticBin(t)
	f := resticRepoFixture(t, lsFindDumpRepoSets[1])
	out, errOut, code := arcaOnRepo(t, f, "find", "--json", "hello.txt")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var groups []struct {
		Matches []struct {
			Path string `json:"path"`
			Type string `json:"type"`
		} `json:"matches"`
		Hits     int    `json:"hits"`
		Snapshot string `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups) != len(f.Snapshots) {
		t.Fatalf("%d groups, want one per snapshot (%d)", len(groups), len(f.Snapshots))
	}
	for i, g := range groups {
		want := f.Snapshots[len(f.Snapshots)-1-i].ID
		if g.Snapshot != want || g.Hits != 1 || len(g.Matches) != 1 || g.Matches[0].Path != "/src/text/hello.txt" || g.Matches[0].Type != "file" {
			t.Errorf("group %d: %+v, want snapshot %s with /src/text/hello.txt", i, g, want)
		}
	}
}
