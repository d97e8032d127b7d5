//! Plain text tables for stdout: columns padded to their widest cell, two spaces apart,
//! no trailing blanks (so that the output diffs and greps cleanly).

/// `headers` then `rows`, one line each.
pub fn render<const N: usize>(headers: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ");
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_without_trailing_blanks() {
        let out = super::render(
            ["A", "BB"],
            &[
                ["long cell".to_owned(), "x".to_owned()],
                ["y".to_owned(), String::new()],
            ],
        );
        assert_eq!(out, "A          BB\nlong cell  x\ny\n");
    }
}
