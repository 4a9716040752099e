package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/lock"
	"github.com/arca-backup/arca/repo"
	"github.com/arca-backup/arca/repo/model"
	"github.com/spf13/cobra"
)

func init() { registerCommand(newCatCommand) }

var catTypes = []string{"config", "index", "snapshot", "key", "masterkey", "lock", "pack", "blob", "tree"}

func newCatCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cat [flags] [masterkey|config|pack ID|blob ID|snapshot ID|index ID|key ID|lock ID|tree snapshot:subfolder]",
		Short: "Print internal objects to stdout",
		Long: `
The "cat" command is used to print internal objects to stdout.

EXIT STATUS
===========

Exit status is 0 if the command was successful.
Exit status is 1 if there was any error.
Exit status is 10 if the repository does not exist.
Exit status is 11 if the repository is already locked.
Exit status is 12 if the password is incorrect.
`,
		DisableAutoGenTag: true,
		ValidArgs:         catTypes,
		RunE: func(c *cobra.Command, args []string) error {
			return a.runCat(c.Context(), args)
		},
	}
}

func checkCatArgs(args []string) error {
	if len(args) < 1 {
		return fatalf("type not specified")
	}
	valid := false
	for _, t := range catTypes {
		valid = valid || t == args[0]
	}
	if !valid {
		return fatalf("invalid type %q, must be one of [%s]", args[0], strings.Join(catTypes, "|"))
	}
	if args[0] != "masterkey" && args[0] != "config" && len(args) != 2 {
		return fatalf("ID not specified")
	}
	return nil
}

func (a *app) runCat(ctx context.Context, args []string) error {
	if err := checkCatArgs(args); err != nil {
		return err
	}
	s, err := a.openSession(ctx, a.readLockMode())
	if err != nil {
		return err
	}
	defer s.done()
	ctx, r := s.ctx, s.repo

	kind := args[0]
	var id model.ID
	switch kind {
	case "masterkey", "config", "snapshot", "tree":
	default:
		if id, err = parseResticID(args[1]); err != nil {
			return fatalf("unable to parse ID: %v", err)
		}
	}

	switch kind {
	case "config":
		return a.printIndentedJSON(r.Config())
	case "masterkey":
		return a.printIndentedJSON(r.Key())
	case "index":
		buf, err := r.LoadUnpacked(ctx, backend.IndexFile, id)
		if err != nil {
			return err
		}
		return a.printLine(string(buf))
	case "snapshot":
		sn, _, err := catFindSnapshot(ctx, r, args[1])
		if err != nil {
			return err
		}
		return a.printIndentedJSON(sn)
	case "key":
		kf, err := r.LoadKeyFile(ctx, id.String())
		if err != nil {
			return err
		}
		return a.printIndentedJSON(kf)
	case "lock":
		buf, err := r.LoadUnpacked(ctx, backend.LockFile, id)
		if err != nil {
			return err
		}
		lk, err := lock.Unmarshal(buf)
		if err != nil {
			return err
		}
		return a.printIndentedJSON(lk)
	case "pack":
		buf, err := r.LoadRaw(ctx, backend.PackFile, id)
		if buf == nil {
			return err
		}
		// a damaged pack is still printed, with a warning
		if h := model.Hash(buf); h != id {
			a.warnf("Warning: hash of data does not match ID, want\n  %v\ngot:\n  %v\n", id, h)
		}
		_, err = a.stdout.Write(buf)
		return err
	case "blob":
		if err := r.LoadIndex(ctx, nil); err != nil {
			return err
		}
		for _, t := range []model.BlobType{model.DataBlob, model.TreeBlob} {
			if !r.Index().Has(model.BlobHandle{ID: id, Type: t}) {
				continue
			}
			buf, err := r.LoadBlob(ctx, t, id, nil)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(buf)
			return err
		}
		return fatalf("blob not found")
	case "tree":
		sn, sub, err := catFindSnapshot(ctx, r, args[1])
		if err != nil {
			return err
		}
		if err := r.LoadIndex(ctx, nil); err != nil {
			return err
		}
		tree, err := findTreeDirectory(ctx, r, *sn.Tree, sub)
		if err != nil {
			return err
		}
		buf, err := r.LoadBlob(ctx, model.TreeBlob, tree, nil)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(buf)
		return err
	}
	return fatalf("invalid type")
}

// parseResticID parses a full ID with restic's error texts.
func parseResticID(s string) (model.ID, error) {
	if len(s) != 2*model.IDSize {
		return model.ID{}, fmt.Errorf("invalid length for ID: %q", s)
	}
	var id model.ID
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return model.ID{}, fmt.Errorf("invalid ID: %s", err)
	}
	return id, nil
}

// catFindSnapshot resolves "ID[:subfolder]" the way restic's cat does: a
// full ID or a unique prefix among the snapshot files ("latest" is not
// special here).
func catFindSnapshot(ctx context.Context, r *repo.Repository, arg string) (*model.Snapshot, string, error) {
	name, sub, _ := strings.Cut(arg, ":")
	id, err := model.ParseID(name)
	if err != nil {
		id, err = findIDByPrefix(ctx, r, backend.SnapshotFile, name)
		if err != nil {
			return nil, "", fatalf("could not find snapshot: %v", err)
		}
	}
	sn, err := r.LoadSnapshot(ctx, id)
	if err != nil {
		return nil, "", fatalf("could not find snapshot: failed to load snapshot %v: %v", id.Str(), err)
	}
	return sn, sub, nil
}

// findIDByPrefix finds the one file of type t whose name starts with
// prefix, with restic's error texts.
func findIDByPrefix(ctx context.Context, r *repo.Repository, t backend.FileType, prefix string) (model.ID, error) {
	var match model.ID
	found := 0
	err := r.List(ctx, t, func(id model.ID, _ int64) error {
		if strings.HasPrefix(id.String(), prefix) {
			match = id
			found++
		}
		return nil
	})
	switch {
	case err != nil:
		return model.ID{}, err
	case found == 0:
		return model.ID{}, fmt.Errorf("no matching ID found for prefix %q", prefix)
	case found > 1:
		return model.ID{}, fmt.Errorf("multiple IDs with prefix %q found", prefix)
	}
	return match, nil
}

// findTreeDirectory walks from the tree root down the slash-separated path
// sub and returns the ID of the directory's tree, with restic's error texts.
func findTreeDirectory(ctx context.Context, r *repo.Repository, root model.ID, sub string) (model.ID, error) {
	id := root
	walked := ""
	for _, name := range strings.Split(path.Clean(sub), "/") {
		if name == "" || name == "." {
			continue
		}
		if walked == "" {
			walked = name
		} else {
			walked += "/" + name
		}
		t, err := r.LoadTree(ctx, id)
		if err != nil {
			return model.ID{}, fmt.Errorf("path %s: %w", walked, err)
		}
		n := t.Find(name)
		if n == nil {
			return model.ID{}, fmt.Errorf("path %s: not found", walked)
		}
		if n.Type != model.NodeTypeDir || n.Subtree == nil {
			return model.ID{}, fmt.Errorf("path %s: not a directory", walked)
		}
		id = *n.Subtree
	}
	return id, nil
}

// printIndentedJSON prints v as restic's cat does: indented by two spaces,
// followed by a newline.
func (a *app) printIndentedJSON(v any) error {
	buf, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return a.printLine(string(buf))
}

// printLine prints s to stdout, adding a newline when it does not end in one.
func (a *app) printLine(s string) error {
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, err := fmt.Fprint(a.stdout, s)
	return err
}
