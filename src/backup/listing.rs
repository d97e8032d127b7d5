//! A listing of a site's files taken on its host: what an incremental backup compares with
//! the previous snapshot to learn which files must cross the network.
//!
//! GNU `find -printf` writes, for every entry under the site root, its type, size, mtime and
//! ctime (with nanoseconds), inode, device, link count, mode, owner, path and link target,
//! each field ended by a NUL, so that no file name (newlines, leading dashes, bytes that
//! are not UTF-8) can shift a field. The stream is compressed on the host when it has
//! `zstd` (else `gzip`, else it goes plain) and parsed here as it arrives: only the entries
//! themselves are kept, about [`ENTRY_BYTES`] each plus their path.
//!
//! The script ends the stream with a trailer holding find's exit status: a listing cut
//! short (connection lost, find killed) is an error, never a smaller site. A host without
//! GNU find answers so in the header, and the caller falls back to reading every file.

use std::io::{self, BufRead, BufReader, Read};

use tokio::io::AsyncWriteExt;
use tokio_util::io::SyncIoBridge;

use crate::remote::{quote, Connection, RemoteCommand, RemoteError, EXIT_NO_DIR};

/// The listing format this runner understands (the header's second word).
const FORMAT: &str = "1";
/// The in-memory pipe between the network and the parser.
const PIPE_BYTES: usize = 256 * 1024;
/// The longest field accepted (a path, a link target): far past any real file system's
/// limit, short of letting a garbled stream eat the runner's memory.
const FIELD_LIMIT: u64 = 64 * 1024;
/// The size of an [`Entry`] without its path and link target.
pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();
// Memory per entry is this plus its path: a million files must stay a few hundred MB.
const _: () = assert!(ENTRY_BYTES <= 96);
/// `find -printf`: one record per entry, every field ended by a NUL.
const PRINTF: &str = "%y\\0%s\\0%T@\\0%C@\\0%i\\0%D\\0%n\\0%m\\0%U\\0%G\\0%P\\0%l\\0";
/// Fields per record.
const FIELDS: usize = 12;
/// The first field of the trailer record (never a `%y` type letter).
const TRAILER: &[u8] = b"end";

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    /// Anything else `find` reports (a Solaris door, an unknown type).
    Other,
}

impl EntryKind {
    fn from_find(letter: &[u8]) -> EntryKind {
        match letter {
            b"f" => EntryKind::File,
            b"d" => EntryKind::Dir,
            b"l" => EntryKind::Symlink,
            b"p" => EntryKind::Fifo,
            b"s" => EntryKind::Socket,
            b"c" => EntryKind::CharDevice,
            b"b" => EntryKind::BlockDevice,
            _ => EntryKind::Other,
        }
    }
}

/// One entry under the site root, as the host saw it when listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the site root, without `./`; empty for the root itself. Bytes, as the
    /// file system holds them.
    pub path: Box<[u8]>,
    /// A symlink's target.
    pub link: Option<Box<[u8]>>,
    pub size: u64,
    /// Nanoseconds since the epoch.
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
    pub device: u64,
    /// Hard links to this inode.
    pub links: u64,
    /// Permission bits with setuid/setgid/sticky (`find`'s `%m`), without the type.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub kind: EntryKind,
}

/// How the host compressed what it sends: what it has, best first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Codec {
    Zstd,
    Gzip,
    #[default]
    Plain,
}

impl Codec {
    /// The codec a host's `zstd`/`gzip` (its name as a word) gives.
    pub fn from_word(word: &str) -> Option<Codec> {
        match word {
            "zstd" => Some(Codec::Zstd),
            "gzip" => Some(Codec::Gzip),
            "plain" => Some(Codec::Plain),
            _ => None,
        }
    }

    /// The host-side command compressing stdin to stdout, as shell syntax.
    pub fn compressor(self) -> &'static str {
        match self {
            Codec::Zstd => "zstd -q -c -3",
            Codec::Gzip => "gzip -c -3",
            Codec::Plain => "cat",
        }
    }

    /// `input` decompressed as this codec says.
    pub fn decoder<'a>(
        self,
        input: impl BufRead + Send + 'a,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
            Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Codec::Plain => Box::new(input),
        })
    }
}

/// A complete listing of a site root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The host's clock when the listing began, in nanoseconds since the epoch (whole
    /// seconds when the host's `date` has no `%N`). A file modified from a second before
    /// this on may change again within the same timestamp: see `changed::RACY_WINDOW_NS`.
    pub started_ns: i64,
    /// How the host compresses (also used for the tar of changed files).
    pub codec: Codec,
    /// In the order [`sort`] gives: a directory's entries right after it, by name.
    pub entries: Vec<Entry>,
    /// Bytes of the answer that crossed the network (compressed).
    pub wire_bytes: u64,
}

/// What the host answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Listing(Listing),
    /// The host's `find` cannot `-printf` (not GNU find): every file must be read.
    NoGnuFind,
}

/// Why a listing failed.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("{0}")]
    Remote(#[from] RemoteError),
    #[error("find could not list everything under the site root (exit status {status}): {stderr}")]
    FindFailed { status: i32, stderr: String },
    #[error("the listing ended before its trailer: it was cut short")]
    Truncated,
    #[error("the listing is garbled at entry {entry}: {reason}")]
    Malformed { entry: u64, reason: String },
    #[error("reading the listing: {0}")]
    Io(#[from] io::Error),
}

/// The script taking the listing, run in `root`. The header line (plain text) names the
/// codec and the clock; the compressed records follow.
pub fn listing_command(root: &str, excludes: &[String]) -> RemoteCommand {
    let mut prune = String::new();
    for pattern in excludes {
        let pattern = pattern
            .trim_start_matches("./")
            .trim_start_matches('/')
            .trim_end_matches('/');
        if pattern.is_empty() {
            continue;
        }
        if !prune.is_empty() {
            prune.push_str(" -o");
        }
        prune.push_str(&format!(" -path {}", quote(&format!("./{pattern}"))));
    }
    let find = if prune.is_empty() {
        format!("find . -printf '{PRINTF}'")
    } else {
        format!("find . \\({prune} \\) -prune -o -printf '{PRINTF}'")
    };
    // find's status travels inside the stream (a pipe's status is its last command's).
    let body = format!("{{ {find}; printf 'end\\0%s\\0' \"$?\"; }}");
    RemoteCommand::script(&format!(
        "{}{{ cd {} || exit {EXIT_NO_DIR}; }} && \
         if ! find . -maxdepth 0 -printf '' >/dev/null 2>&1; then echo 'tend-listing {FORMAT} no-gnu-find'; exit 0; fi; \
         {}t=$(date +%s.%N); \
         if command -v zstd >/dev/null 2>&1; then echo \"tend-listing {FORMAT} zstd $t\"; {body} | {}; \
         elif command -v gzip >/dev/null 2>&1; then echo \"tend-listing {FORMAT} gzip $t\"; {body} | {}; \
         else echo \"tend-listing {FORMAT} plain $t\"; {body}; fi",
        crate::fault_point::path_script(),
        quote(root),
        crate::fault_point::pause_script("listing"),
        Codec::Zstd.compressor(),
        Codec::Gzip.compressor(),
    ))
}

/// Takes the listing of `root` on `host`, parsing it as it arrives.
pub async fn take(
    host: &Connection,
    root: &str,
    excludes: &[String],
) -> Result<Taken, ListingError> {
    run(host, &listing_command(root, excludes)).await
}

/// Runs a [`listing_command`] (as it is, or wrapped: a test puts a different `find` first
/// on the PATH) and parses its answer as it arrives.
pub async fn run(host: &Connection, command: &RemoteCommand) -> Result<Taken, ListingError> {
    let (mut writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let parser =
        tokio::task::spawn_blocking(move || parse(BufReader::new(SyncIoBridge::new(reader))));
    let streamed = host.stream_to(command, None, &mut writer).await;
    let _ = writer.shutdown().await;
    drop(writer);
    let parsed = parser.await.map_err(io::Error::other)?;
    let (wire_bytes, stderr) = streamed?;
    match parsed {
        Err(ListingError::FindFailed { status, .. }) => Err(ListingError::FindFailed {
            status,
            stderr: crate::remote::error::tail_lines(&stderr, 5),
        }),
        Ok(Taken::Listing(mut listing)) => {
            listing.wire_bytes = wire_bytes;
            Ok(Taken::Listing(listing))
        }
        other => other,
    }
}

/// Parses a whole answer of [`listing_command`]: the header, then the records in its codec.
pub fn parse(mut input: impl BufRead + Send) -> Result<Taken, ListingError> {
    let mut header = Vec::new();
    (&mut input).take(256).read_until(b'\n', &mut header)?;
    if header.last() != Some(&b'\n') {
        return Err(ListingError::Truncated);
    }
    let header = String::from_utf8_lossy(&header[..header.len() - 1]).into_owned();
    let words: Vec<&str> = header.split(' ').collect();
    let bad_header = || ListingError::Malformed {
        entry: 0,
        reason: format!("unexpected header {header:?}"),
    };
    match words.as_slice() {
        ["tend-listing", FORMAT, "no-gnu-find"] => Ok(Taken::NoGnuFind),
        ["tend-listing", FORMAT, codec, clock] => {
            let codec = Codec::from_word(codec).ok_or_else(bad_header)?;
            let started_ns = parse_clock(clock).ok_or_else(bad_header)?;
            let records = BufReader::new(codec.decoder(input)?);
            let mut entries = Vec::new();
            read_records(records, |entry| entries.push(entry))?;
            sort(&mut entries);
            Ok(Taken::Listing(Listing {
                started_ns,
                codec,
                entries,
                wire_bytes: 0,
            }))
        }
        _ => Err(bad_header()),
    }
}

/// Reads records to the trailer, handing each entry to `each`.
pub fn read_records(
    mut input: impl BufRead,
    mut each: impl FnMut(Entry),
) -> Result<(), ListingError> {
    let mut fields: Vec<Vec<u8>> = (0..FIELDS).map(|_| Vec::new()).collect();
    let mut entry_number = 0u64;
    loop {
        entry_number += 1;
        if !read_field(&mut input, &mut fields[0], entry_number)? {
            return Err(ListingError::Truncated);
        }
        if fields[0] == TRAILER {
            let mut status = Vec::new();
            if !read_field(&mut input, &mut status, entry_number)? {
                return Err(ListingError::Truncated);
            }
            let status: i32 = number(&status, entry_number, "find's exit status")?;
            if status != 0 {
                return Err(ListingError::FindFailed {
                    status,
                    stderr: String::new(),
                });
            }
            return Ok(());
        }
        for field in fields.iter_mut().skip(1) {
            if !read_field(&mut input, field, entry_number)? {
                return Err(ListingError::Truncated);
            }
        }
        each(entry(&fields, entry_number)?);
    }
}

/// Reads one NUL-ended field into `out`; false at a clean end of input.
fn read_field(
    input: &mut impl BufRead,
    out: &mut Vec<u8>,
    entry: u64,
) -> Result<bool, ListingError> {
    out.clear();
    let read = input.take(FIELD_LIMIT + 1).read_until(0, out)?;
    if read == 0 {
        return Ok(false);
    }
    if out.pop() != Some(0) {
        return Err(if read as u64 > FIELD_LIMIT {
            ListingError::Malformed {
                entry,
                reason: format!("a field longer than {FIELD_LIMIT} bytes"),
            }
        } else {
            ListingError::Truncated
        });
    }
    Ok(true)
}

fn entry(fields: &[Vec<u8>], n: u64) -> Result<Entry, ListingError> {
    let kind = EntryKind::from_find(&fields[0]);
    let link = (kind == EntryKind::Symlink).then(|| fields[11].clone().into_boxed_slice());
    Ok(Entry {
        kind,
        size: number(&fields[1], n, "size")?,
        mtime_ns: timestamp(&fields[2], n, "mtime")?,
        ctime_ns: timestamp(&fields[3], n, "ctime")?,
        inode: number(&fields[4], n, "inode")?,
        device: number(&fields[5], n, "device")?,
        links: number(&fields[6], n, "link count")?,
        mode: u32::from_str_radix(text(&fields[7], n, "mode")?, 8)
            .map_err(|e| bad(n, "mode", e))?,
        uid: number(&fields[8], n, "owner")?,
        gid: number(&fields[9], n, "group")?,
        path: fields[10].clone().into_boxed_slice(),
        link,
    })
}

fn text<'a>(field: &'a [u8], entry: u64, what: &str) -> Result<&'a str, ListingError> {
    std::str::from_utf8(field).map_err(|e| bad(entry, what, e))
}

fn number<T: std::str::FromStr>(field: &[u8], entry: u64, what: &str) -> Result<T, ListingError>
where
    T::Err: std::fmt::Display,
{
    text(field, entry, what)?
        .parse()
        .map_err(|e| bad(entry, what, e))
}

fn bad(entry: u64, what: &str, e: impl std::fmt::Display) -> ListingError {
    ListingError::Malformed {
        entry,
        reason: format!("{what}: {e}"),
    }
}

fn timestamp(field: &[u8], entry: u64, what: &str) -> Result<i64, ListingError> {
    parse_timestamp(text(field, entry, what)?)
        .ok_or_else(|| bad(entry, what, "not SECONDS.FRACTION"))
}

/// `find`'s `%T@` (`1700000000.1234567890`, possibly negative) in nanoseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (seconds, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if seconds.is_empty()
        || !seconds.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let seconds: i64 = seconds.parse().ok()?;
    let mut nanos: i64 = 0;
    for digit in fraction.bytes().chain(std::iter::repeat(b'0')).take(9) {
        nanos = nanos * 10 + i64::from(digit - b'0');
    }
    let total = seconds.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    Some(if negative { -total } else { total })
}

/// The header's clock: `date +%s.%N`, or whole seconds where `%N` is not understood.
fn parse_clock(text: &str) -> Option<i64> {
    parse_timestamp(text).or_else(|| {
        let seconds = text.split('.').next()?;
        parse_timestamp(seconds)
    })
}

/// Tree order: by path component, so that a directory's entries follow it directly, each
/// directory's in byte order of their names (the order restic's trees hold them).
pub fn sort(entries: &mut [Entry]) {
    entries.sort_unstable_by(|a, b| tree_order(&a.path, &b.path));
}

pub fn tree_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    // Component by component: a directory (a prefix) before what it holds. The root's
    // empty path is one empty component, before every name.
    a.split(|c| *c == b'/').cmp(b.split(|c| *c == b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record as GNU find prints it.
    fn record(kind: &str, size: u64, mtime: &str, path: &[u8], link: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for field in [
            kind.as_bytes(),
            size.to_string().as_bytes(),
            mtime.as_bytes(),
            mtime.as_bytes(),
            b"1234",
            b"2049",
            b"1",
            b"644",
            b"1000",
            b"33",
            path,
            link,
        ] {
            out.extend_from_slice(field);
            out.push(0);
        }
        out
    }

    fn answer(codec: &str, records: &[Vec<u8>], trailer: &[u8]) -> Vec<u8> {
        let mut body: Vec<u8> = records.concat();
        body.extend_from_slice(trailer);
        let body = match codec {
            "zstd" => zstd::encode_all(&body[..], 3).unwrap(),
            "gzip" => {
                use std::io::Write;
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&body).unwrap();
                gz.finish().unwrap()
            }
            _ => body,
        };
        let mut out = format!("tend-listing 1 {codec} 1700000000.500000000\n").into_bytes();
        out.extend_from_slice(&body);
        out
    }

    fn hostile() -> Vec<Vec<u8>> {
        vec![
            record("d", 4096, "1700000000.0000000000", b"", b""),
            record("f", 5, "1700000000.1234567890", b"new\nline", b""),
            record("f", 7, "1699999999.9", b"-rf", b""),
            record("f", 7, "1699999999.9", b"--remove-files", b""),
            record("d", 4096, "1700000000.0000000000", b"wp-content", b""),
            record(
                "f",
                1,
                "1700000000.0000000000",
                b"wp-content/back\\slash \xff\xfe",
                b"",
            ),
            record(
                "l",
                9,
                "1700000000.0000000000",
                b"wp-content/link",
                b"../target\nwith newline",
            ),
            record("f", 1, "1700000000.0000000000", b"wp-content.txt", b""),
            record("f", 0, "-1.5", b"before-1970", b""),
        ]
    }

    #[test]
    fn parses_hostile_names_in_every_codec() {
        for codec in ["zstd", "gzip", "plain"] {
            let data = answer(codec, &hostile(), b"end\x000\x00");
            let Taken::Listing(listing) = parse(&data[..]).unwrap() else {
                panic!("{codec}: no listing");
            };
            assert_eq!(listing.started_ns, 1_700_000_000_500_000_000);
            let paths: Vec<&[u8]> = listing.entries.iter().map(|e| &*e.path).collect();
            assert_eq!(
                paths,
                vec![
                    &b""[..],
                    b"--remove-files",
                    b"-rf",
                    b"before-1970",
                    b"new\nline",
                    b"wp-content",
                    b"wp-content/back\\slash \xff\xfe",
                    b"wp-content/link",
                    b"wp-content.txt",
                ],
                "{codec}"
            );
            let new_line = &listing.entries[4];
            assert_eq!(new_line.mtime_ns, 1_700_000_000_123_456_789);
            assert_eq!(
                (new_line.size, new_line.mode, new_line.uid, new_line.gid),
                (5, 0o644, 1000, 33)
            );
            assert_eq!(
                (new_line.inode, new_line.device, new_line.links),
                (1234, 2049, 1)
            );
            let link = &listing.entries[7];
            assert_eq!(link.kind, EntryKind::Symlink);
            assert_eq!(link.link.as_deref(), Some(&b"../target\nwith newline"[..]));
            assert_eq!(listing.entries[3].mtime_ns, -1_500_000_000);
            assert_eq!(listing.entries[2].mtime_ns, 1_699_999_999_900_000_000);
            assert!(listing
                .entries
                .iter()
                .filter(|e| e.kind != EntryKind::Symlink)
                .all(|e| e.link.is_none()));
        }
    }

    #[test]
    fn a_listing_cut_short_is_an_error_never_a_smaller_site() {
        let whole = answer("plain", &hostile(), b"end\x000\x00");
        let no_trailer = answer("plain", &hostile(), b"");
        assert!(matches!(
            parse(&no_trailer[..]),
            Err(ListingError::Truncated)
        ));
        // Cut inside a record, and inside the compressed stream.
        assert!(matches!(
            parse(&whole[..whole.len() - 30]),
            Err(ListingError::Truncated)
        ));
        let zstd = answer("zstd", &hostile(), b"end\x000\x00");
        assert!(parse(&zstd[..zstd.len() - 10]).is_err());
        assert!(matches!(
            parse(&b"tend-listing 1 zst"[..]),
            Err(ListingError::Truncated)
        ));
    }

    #[test]
    fn find_failing_fails_the_listing() {
        let data = answer("gzip", &hostile(), b"end\x001\x00");
        assert!(matches!(
            parse(&data[..]),
            Err(ListingError::FindFailed { status: 1, .. })
        ));
    }

    #[test]
    fn garbage_is_refused_with_the_entry_number() {
        let mut records = hostile();
        records.push(record("f", 1, "yesterday", b"x", b""));
        let data = answer("plain", &records, b"end\x000\x00");
        match parse(&data[..]) {
            Err(ListingError::Malformed { entry, reason }) => {
                assert_eq!(entry, 10);
                assert!(reason.contains("mtime"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let long = vec![b'a'; FIELD_LIMIT as usize + 10];
        let data = answer(
            "plain",
            &[record("f", 1, "1.0", &long, b"")],
            b"end\x000\x00",
        );
        assert!(matches!(
            parse(&data[..]),
            Err(ListingError::Malformed { .. })
        ));
        assert!(matches!(
            parse(&b"tend-listing 2 zstd 1.0\n"[..]),
            Err(ListingError::Malformed { .. })
        ));
    }

    #[test]
    fn a_host_without_gnu_find_says_so() {
        assert_eq!(
            parse(&b"tend-listing 1 no-gnu-find\n"[..]).unwrap(),
            Taken::NoGnuFind
        );
    }

    #[test]
    fn the_clock_may_lack_nanoseconds() {
        assert_eq!(parse_clock("1700000000.N"), Some(1_700_000_000_000_000_000));
        assert_eq!(
            parse_clock("1700000000.%N"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_clock("1700000000.000000042"),
            Some(1_700_000_000_000_000_042)
        );
        assert_eq!(parse_timestamp("abc"), None);
        assert_eq!(parse_timestamp(".5"), None);
    }

    #[test]
    fn the_command_quotes_root_and_excludes() {
        let command = listing_command(
            "/srv/it's",
            &["wp-content/cache/".into(), "./.tend".into(), "a b*".into()],
        );
        let line = command.as_str();
        assert!(
            line.starts_with("{ cd '/srv/it'\\''s' || exit 201; }"),
            "{line}"
        );
        assert!(
            line.contains("find . \\( -path ./wp-content/cache -o -path ./.tend -o -path './a b*' \\) -prune -o -printf"),
            "{line}"
        );
    }
}
