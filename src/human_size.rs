//! Sizes as people read them (`412.0 MiB`), the same in the terminal, reports and
//! notifications: one function, so a size never reads two ways.

/// `bytes` in binary units, one decimal above a KiB: `512 B`, `2.9 KiB`, `1.9 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3000), "2.9 KiB");
        assert_eq!(human_bytes(2_032_000_000), "1.9 GiB");
    }
}
