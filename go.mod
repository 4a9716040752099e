module github.com/arca-backup/arca

go 1.24.0
