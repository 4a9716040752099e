package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/arca-backup/arca/backend"
	"github.com/arca-backup/arca/repo/engine"
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
		ValidArgs:         slices.Clone(catTypes), // cobra sorts it when writing bash completion
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
	e, err := a.openEngineRepo(ctx)
	if err != nil {
		return err
	}
	defer e.Close()

	kind := args[0]
	var id model.ID
	switch kind {
	case "masterkey", "config", "snapshot", "tree":
	default:
		if id, err = parseResticID(args[1]); err != nil {
			return fatalf("unable to parse ID: %v", err)
		}
	}
	return engineError(e.Read(ctx, func(ctx context.Context, rd *engine.Reader) error {
		return a.cat(ctx, e, rd, kind, id, args)
	}))
}

// cat prints the object cat was asked for.
func (a *app) cat(ctx context.Context, e *engine.Repository, rd *engine.Reader, kind string, id model.ID, args []string) error {
	switch kind {
	case "config":
		return a.printIndentedJSON(e.Config())
	case "masterkey":
		return a.printIndentedJSON(e.MasterKey())
	case "index":
		buf, err := rd.IndexFile(ctx, id)
		if err != nil {
			return err
		}
		return a.printLine(string(buf))
	case "snapshot":
		sn, _, err := catFindSnapshot(ctx, rd, args[1])
		if err != nil {
			return err
		}
		return a.printIndentedJSON(sn)
	case "key":
		kf, err := rd.KeyFile(ctx, id)
		if err != nil {
			return err
		}
		return a.printIndentedJSON(kf)
	case "lock":
		lk, err := rd.LockFile(ctx, id)
		if err != nil {
			return err
		}
		return a.printIndentedJSON(lk)
	case "pack":
		buf, err := rd.Pack(ctx, id)
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
		buf, _, err := rd.Blob(ctx, id)
		if errors.Is(err, engine.ErrBlobNotFound) {
			return fatalf("blob not found")
		}
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(buf)
		return err
	case "tree":
		sn, sub, err := catFindSnapshot(ctx, rd, args[1])
		if err != nil {
			return err
		}
		tree, err := rd.Subtree(ctx, *sn.Tree, sub)
		if err != nil {
			return err
		}
		buf, err := rd.Tree(ctx, tree)
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
func catFindSnapshot(ctx context.Context, rd *engine.Reader, arg string) (*model.Snapshot, string, error) {
	name, sub, _ := strings.Cut(arg, ":")
	id, err := model.ParseID(name)
	if err != nil {
		id, err = rd.FindFileID(ctx, backend.SnapshotFile, name)
		if err != nil {
			return nil, "", fatalf("could not find snapshot: %v", err)
		}
	}
	sn, err := rd.LoadSnapshot(ctx, id)
	if err != nil {
		return nil, "", fatalf("could not find snapshot: failed to load snapshot %v: %v", id.Str(), err)
	}
	return sn, sub, nil
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
