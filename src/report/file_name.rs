//! File names of reports: `<slug>-<YYYY-MM>.<ext>`, the slug made from the client's name.
//!
//! A slug is lowercase ASCII letters, digits and single dashes, so the name survives any
//! file system, mail attachment or URL. Common accented Latin letters are folded to their
//! base letter (`Müller` → `muller`) rather than dropped. Two clients whose names slug alike
//! (`ACME Ltd` and `Acme, Ltd.`) must never overwrite each other's file: [`unique_slugs`]
//! gives the later one (in inventory order) a `-2`, `-3`, … suffix.

use std::collections::HashSet;

use super::month::Month;

/// The slug of a client's name; `client` when nothing usable is left.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars().flat_map(fold) {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        "client".to_owned()
    } else {
        out
    }
}

/// Slugs for `names`, in order, none equal to another.
pub fn unique_slugs<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = HashSet::new();
    names
        .into_iter()
        .map(|name| {
            let base = slug(name);
            let mut candidate = base.clone();
            let mut n = 2;
            while !taken.insert(candidate.clone()) {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            candidate
        })
        .collect()
}

/// `acme-ltd-2026-11.md`.
pub fn file_name(slug: &str, month: Month, extension: &str) -> String {
    format!("{slug}-{month}.{extension}")
}

/// Accented Latin letters as their base letters; anything else unchanged.
fn fold(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Å' | 'Ā' | 'Ą' => "A",
        'ä' | 'æ' => "ae",
        'Ä' | 'Æ' => "AE",
        'ç' | 'ć' | 'č' => "c",
        'Ç' | 'Ć' | 'Č' => "C",
        'ď' | 'đ' => "d",
        'Ď' | 'Đ' => "D",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => "I",
        'ł' => "l",
        'Ł' => "L",
        'ñ' | 'ń' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'ō' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' | 'Ō' => "O",
        'ö' | 'œ' => "oe",
        'Ö' | 'Œ' => "OE",
        'ř' => "r",
        'Ř' => "R",
        'ś' | 'š' | 'ş' => "s",
        'Ś' | 'Š' | 'Ş' => "S",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'Ť' | 'Ţ' => "T",
        'ù' | 'ú' | 'û' | 'ū' | 'ů' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ū' | 'Ů' => "U",
        'ü' => "ue",
        'Ü' => "UE",
        'ý' | 'ÿ' => "y",
        'Ý' | 'Ÿ' => "Y",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        '&' => "-and-",
        _ => "",
    };
    let own = folded.is_empty().then_some(c);
    folded.chars().chain(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_become_lowercase_ascii_slugs() {
        assert_eq!(slug("ACME Ltd"), "acme-ltd");
        assert_eq!(slug("Unassigned"), "unassigned");
        assert_eq!(slug("  Globex, Inc.  "), "globex-inc");
        assert_eq!(slug("Müller & Söhne GmbH"), "mueller-and-soehne-gmbh");
        assert_eq!(slug("Café Zoë"), "cafe-zoe");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("日本"), "client");
        assert_eq!(slug(""), "client");
    }

    #[test]
    fn clients_that_slug_alike_get_distinct_names() {
        assert_eq!(
            unique_slugs(["ACME Ltd", "Acme, Ltd.", "acme ltd", "Unassigned"]),
            ["acme-ltd", "acme-ltd-2", "acme-ltd-3", "unassigned"]
        );
        // A suffix that is itself some client's slug is skipped, not reused.
        assert_eq!(unique_slugs(["a", "a 2", "A"]), ["a", "a-2", "a-3"]);
    }

    #[test]
    fn file_names_carry_slug_month_and_format() {
        let month: Month = "2026-11".parse().unwrap();
        assert_eq!(file_name("acme-ltd", month, "md"), "acme-ltd-2026-11.md");
    }
}
