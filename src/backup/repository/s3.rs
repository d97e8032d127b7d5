//! Repositories on an S3-compatible object store, through OpenDAL's S3 service (which
//! `rustic_backend` wraps).
//!
//! The options say everything the connection uses: path-style addressing
//! (`endpoint/bucket/key`, which every S3-compatible store serves, unlike virtual hosts),
//! the prefix as the root, the region (or [`DEFAULT_REGION`]) and the inventory's
//! credentials only — never the runner's `~/.aws` files or a cloud metadata service, so a
//! backup uses exactly what the inventory says. The secret arrives as a masked
//! [`crate::cms::database::Password`] and leaves only into the options map handed to
//! OpenDAL.
//!
//! OpenDAL's blocking operator drives its own runtime with `block_on`, which tokio forbids
//! on a thread that is running async tasks: tend opens and uses repositories from its
//! command session's runtime. [`S3Backend`] therefore makes each call on a thread of its
//! own when it is called from inside a runtime (one short-lived thread per request, next to
//! a network round trip).

use std::collections::BTreeMap;

use bytes::Bytes;
use rustic_backend::opendal::OpenDALBackend;
use rustic_core::{BytesList, FileType, Id, ReadBackend, RusticResult, WriteBackend};

use crate::inventory::repository::S3Location;

/// The region when the inventory names none: what most S3-compatible stores accept.
pub const DEFAULT_REGION: &str = "us-east-1";

/// OpenDAL's S3 options for `s3`.
pub fn options(s3: &S3Location) -> BTreeMap<String, String> {
    let mut options = BTreeMap::from([
        ("endpoint".to_owned(), s3.endpoint.clone()),
        ("bucket".to_owned(), s3.bucket.clone()),
        ("root".to_owned(), format!("/{}", s3.prefix)),
        (
            "region".to_owned(),
            s3.region
                .clone()
                .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        ),
        ("disable_config_load".to_owned(), "true".to_owned()),
        ("disable_ec2_metadata".to_owned(), "true".to_owned()),
    ]);
    if let Some(key) = &s3.access_key_id {
        options.insert("access_key_id".to_owned(), key.clone());
    }
    if let Some(secret) = &s3.secret_access_key {
        options.insert("secret_access_key".to_owned(), secret.expose().to_owned());
    }
    options
}

/// The runtime OpenDAL's blocking operators run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the object store")
    })
}

/// Plain files under the repository's prefix (restic's `locks/`), for what rustic_core's
/// backend trait has no file type for.
#[derive(Clone)]
pub struct S3Files {
    operator: opendal::blocking::Operator,
}

impl S3Files {
    pub fn new(s3: &S3Location) -> opendal::Result<S3Files> {
        let _guard = runtime().enter();
        let operator = opendal::Operator::via_iter("s3", options(s3))?;
        Ok(S3Files {
            operator: opendal::blocking::Operator::new(operator)?,
        })
    }

    pub fn write(&self, path: &str, data: Vec<u8>) -> opendal::Result<()> {
        off_runtime(|| self.operator.write(path, data).map(|_| ()))
    }

    pub fn read(&self, path: &str) -> opendal::Result<Vec<u8>> {
        off_runtime(|| self.operator.read(path).map(|b| b.to_vec()))
    }

    pub fn delete(&self, path: &str) -> opendal::Result<()> {
        off_runtime(|| self.operator.delete(path))
    }

    /// The names of the files in `dir` (`locks/`); none when it does not exist.
    pub fn names(&self, dir: &str) -> opendal::Result<Vec<String>> {
        off_runtime(|| match self.operator.list(dir) {
            Ok(entries) => Ok(entries
                .into_iter()
                .filter(|e| e.metadata().is_file())
                .map(|e| e.name().to_owned())
                .collect()),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        })
    }
}

/// OpenDAL's S3 backend, callable from inside and outside a tokio runtime.
#[derive(Debug, Clone)]
pub struct S3Backend {
    inner: OpenDALBackend,
}

impl S3Backend {
    pub fn new(s3: &S3Location) -> RusticResult<S3Backend> {
        Ok(S3Backend {
            inner: off_runtime(|| OpenDALBackend::new("s3", options(s3)))?,
        })
    }
}

/// Runs `f` where blocking on a runtime is allowed.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl ReadBackend for S3Backend {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        off_runtime(|| self.inner.list_with_size(tpe))
    }
    fn list(&self, tpe: FileType) -> RusticResult<Vec<Id>> {
        off_runtime(|| self.inner.list(tpe))
    }
    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        off_runtime(|| self.inner.read_full(tpe, id))
    }
    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<Bytes> {
        off_runtime(|| self.inner.read_partial(tpe, id, cacheable, offset, length))
    }
    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        self.inner.warmup_path(tpe, id)
    }
    fn needs_warm_up(&self) -> bool {
        self.inner.needs_warm_up()
    }
    fn warm_up(&self, tpe: FileType, id: &Id) -> RusticResult<()> {
        off_runtime(|| self.inner.warm_up(tpe, id))
    }
}

impl WriteBackend for S3Backend {
    fn create(&self) -> RusticResult<()> {
        off_runtime(|| self.inner.create())
    }
    fn write_bytes(
        &self,
        tpe: FileType,
        id: &Id,
        cacheable: bool,
        content: BytesList,
    ) -> RusticResult<()> {
        off_runtime(|| self.inner.write_bytes(tpe, id, cacheable, content))
    }
    fn remove(&self, tpe: FileType, id: &Id, cacheable: bool) -> RusticResult<()> {
        off_runtime(|| self.inner.remove(tpe, id, cacheable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cms::database::Password;

    #[test]
    fn options_are_path_style_with_the_prefix_as_root_and_only_the_inventorys_credentials() {
        let s3 = S3Location {
            endpoint: "https://s3.example.net".into(),
            bucket: "agency".into(),
            prefix: "tend/a".into(),
            region: None,
            access_key_id: Some("KEY".into()),
            secret_access_key: Some(Password::new("SECRET".into())),
        };
        let options = options(&s3);
        assert_eq!(options["endpoint"], "https://s3.example.net");
        assert_eq!(options["bucket"], "agency");
        assert_eq!(options["root"], "/tend/a");
        assert_eq!(options["region"], DEFAULT_REGION);
        assert_eq!(options["secret_access_key"], "SECRET");
        assert_eq!(options["disable_config_load"], "true");
        assert_eq!(options["disable_ec2_metadata"], "true");
        assert!(!options.contains_key("enable_virtual_host_style"));
    }
}
