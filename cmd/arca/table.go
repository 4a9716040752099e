package main

import (
	"io"
	"sort"
	"strings"
)

// table renders restic's text tables: a header row, a dashed rule, the
// rows, another rule and footer lines. Cells may span several lines
// (separated by "\n"); columns are padded to their widest line, measured
// in terminal cells, joined by two spaces, and trailing spaces are cut.
type table struct {
	headers []string
	rows    [][]string
	footers []string
	// rowGap prints an empty line between rows (restic does this in the
	// snapshots table when a snapshot has several paths).
	rowGap bool
}

func newTable(headers ...string) *table { return &table{headers: headers} }

// addRow adds a row; cells beyond the header count are ignored and missing
// ones are empty.
func (t *table) addRow(cells ...string) {
	row := make([]string, len(t.headers))
	copy(row, cells)
	t.rows = append(t.rows, row)
}

// addFooter adds a line printed after the closing rule.
func (t *table) addFooter(line string) { t.footers = append(t.footers, line) }

const tableCellSeparator = "  "

// write prints the table to w.
func (t *table) write(w io.Writer) error {
	if len(t.headers) == 0 {
		return nil
	}
	widths := make([]int, len(t.headers))
	measure := func(cells []string) {
		for i, c := range cells {
			for _, l := range strings.Split(c, "\n") {
				widths[i] = max(widths[i], displayWidth(l))
			}
		}
	}
	measure(t.headers)
	for _, r := range t.rows {
		measure(r)
	}
	total := (len(widths) - 1) * displayWidth(tableCellSeparator)
	for _, wd := range widths {
		total += wd
	}
	rule := strings.Repeat("-", total) + "\n"

	var b strings.Builder
	t.writeLine(&b, t.headers, widths, false)
	b.WriteString(rule)
	for i, r := range t.rows {
		t.writeLine(&b, r, widths, t.rowGap && i > 0)
	}
	b.WriteString(rule)
	for _, f := range t.footers {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLine writes one row, as many text lines as its tallest cell.
func (t *table) writeLine(b *strings.Builder, cells []string, widths []int, gap bool) {
	split := make([][]string, len(cells))
	lines := 1
	for i, c := range cells {
		split[i] = strings.Split(c, "\n")
		lines = max(lines, len(split[i]))
	}
	for n := range lines {
		var line strings.Builder
		for i, parts := range split {
			if i > 0 {
				line.WriteString(tableCellSeparator)
			}
			var v string
			if n < len(parts) {
				v = parts[n]
			}
			line.WriteString(v)
			if pad := widths[i] - displayWidth(v); pad > 0 {
				line.WriteString(strings.Repeat(" ", pad))
			}
		}
		if gap && n == 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}

// displayWidth is the number of terminal cells s takes: two for East Asian
// wide and fullwidth characters, one for everything else.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n++
		if isWideRune(r) {
			n++
		}
	}
	return n
}

func isWideRune(r rune) bool {
	if r < wideRunes[0][0] {
		return false
	}
	i := sort.Search(len(wideRunes), func(i int) bool { return wideRunes[i][1] >= r })
	return i < len(wideRunes) && wideRunes[i][0] <= r
}

// wideRunes are the inclusive ranges of code points whose Unicode East Asian
// Width property is Wide (W) or Fullwidth (F), as of Unicode 15.
var wideRunes = [...][2]rune{
	{0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC},
	{0x23F0, 0x23F0}, {0x23F3, 0x23F3}, {0x25FD, 0x25FE}, {0x2614, 0x2615},
	{0x2648, 0x2653}, {0x267F, 0x267F}, {0x2693, 0x2693}, {0x26A1, 0x26A1},
	{0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5}, {0x26CE, 0x26CE},
	{0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F3}, {0x26F5, 0x26F5},
	{0x26FA, 0x26FA}, {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B},
	{0x2728, 0x2728}, {0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755},
	{0x2757, 0x2757}, {0x2795, 0x2797}, {0x27B0, 0x27B0}, {0x27BF, 0x27BF},
	{0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x2E80, 0x2E99},
	{0x2E9B, 0x2EF3}, {0x2F00, 0x2FD5}, {0x2FF0, 0x2FFB}, {0x3000, 0x303E},
	{0x3041, 0x3096}, {0x3099, 0x30FF}, {0x3105, 0x312F}, {0x3131, 0x318E},
	{0x3190, 0x31E3}, {0x31F0, 0x321E}, {0x3220, 0x3247}, {0x3250, 0x4DBF},
	{0x4E00, 0xA48C}, {0xA490, 0xA4C6}, {0xA960, 0xA97C}, {0xAC00, 0xD7A3},
	{0xF900, 0xFAFF}, {0xFE10, 0xFE19}, {0xFE30, 0xFE52}, {0xFE54, 0xFE66},
	{0xFE68, 0xFE6B}, {0xFF01, 0xFF60}, {0xFFE0, 0xFFE6}, {0x16FE0, 0x16FE4},
	{0x16FF0, 0x16FF1}, {0x17000, 0x187F7}, {0x18800, 0x18CD5}, {0x18D00, 0x18D08},
	{0x1AFF0, 0x1AFF3}, {0x1AFF5, 0x1AFFB}, {0x1AFFD, 0x1AFFE}, {0x1B000, 0x1B122},
	{0x1B132, 0x1B132}, {0x1B150, 0x1B152}, {0x1B155, 0x1B155}, {0x1B164, 0x1B167},
	{0x1B170, 0x1B2FB}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
	{0x1F191, 0x1F19A}, {0x1F200, 0x1F202}, {0x1F210, 0x1F23B}, {0x1F240, 0x1F248},
	{0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F320}, {0x1F32D, 0x1F335},
	{0x1F337, 0x1F37C}, {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3},
	{0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440},
	{0x1F442, 0x1F4FC}, {0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567},
	{0x1F57A, 0x1F57A}, {0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F},
	{0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7},
	{0x1F6DC, 0x1F6DF}, {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB},
	{0x1F7F0, 0x1F7F0}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF},
	{0x1FA70, 0x1FA7C}, {0x1FA80, 0x1FA88}, {0x1FA90, 0x1FABD}, {0x1FABF, 0x1FAC5},
	{0x1FACE, 0x1FADB}, {0x1FAE0, 0x1FAE8}, {0x1FAF0, 0x1FAF8}, {0x20000, 0x3FFFF},
}
