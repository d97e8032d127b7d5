//! One multiplexed SSH connection to a host, shared by every site on it.
//!
//! Commands run as channels of the master connection; a semaphore caps how many are open
//! at once, because sshd refuses channels beyond its `MaxSessions` (10 by default) and a
//! refused channel would look like a failed command. Output is streamed: a caller either
//! collects it with a size cap ([`Connection::run`]) or hands a writer that receives it as
//! it arrives ([`Connection::stream_to`]), so a 20 GB archive never sits in memory.
//!
//! Every stream ends when either side ends: once the remote side has closed its output (it
//! exited, or the channel broke), whatever tend is still feeding it is dropped, so a writer
//! upstream sees its pipe closed instead of blocking for ever. And every command has a
//! [`Deadline`]: a command a total time, a transfer a time without progress (a 20 GB backup
//! may take hours, but never stalls for minutes). A command past its deadline is
//! abandoned (its channel closed) and fails with [`RemoteError::TimedOut`].

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use openssh::{Session, Stdio};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Semaphore;

use super::error::{tail_lines, RemoteError};
use super::quote::RemoteCommand;
use crate::events::{Event, SharedReporter};

/// Lines of a failed command's stderr kept for the error report.
const STDERR_TAIL_LINES: usize = 20;
/// Bytes of stderr kept while a command runs (only the end matters).
const STDERR_KEEP_BYTES: usize = 16 * 1024;
/// How often a channel refused by sshd (MaxSessions) is asked for again before giving up.
const CHANNEL_OPEN_ATTEMPTS: u32 = 40;
/// How long a master may take to answer "are you alive" on its control socket.
const ALIVE_CHECK_LIMIT: Duration = Duration::from_secs(5);
/// The deadline of a command ([`Connection::run`]): long enough for a CMS's database
/// upgrade or composer, short of for ever.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(30 * 60);
/// The deadline of tend's own bookkeeping on a host (its lock, its journal, renames): small
/// commands that never need long.
pub const BOOKKEEPING_LIMIT: Duration = Duration::from_secs(5 * 60);
/// The deadline of a transfer ([`Connection::stream_to`], [`Connection::run_with_input`]):
/// how long no byte may move in either direction.
pub const TRANSFER_IDLE_LIMIT: Duration = Duration::from_secs(5 * 60);

/// The deadlines of a connection's commands (`settings.command_timeout`,
/// `settings.transfer_stall_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// How long a command may run in all.
    pub command: Duration,
    /// How long a transfer may go without a byte moving.
    pub transfer_idle: Duration,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines {
            command: COMMAND_LIMIT,
            transfer_idle: TRANSFER_IDLE_LIMIT,
        }
    }
}

/// How long a remote command may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// At most this long in all.
    Total(Duration),
    /// At most this long without a byte moving on its stdin, stdout or stderr.
    Idle(Duration),
}

pub struct Connection {
    session: Session,
    channels: Semaphore,
    deadlines: Deadlines,
    destination: String,
    reporter: SharedReporter,
    /// Exported as `TEND_CONN` to every command this connection runs: names, on the
    /// host, the processes a lost connection left behind.
    tag: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("destination", &self.destination)
            .finish_non_exhaustive()
    }
}

/// What a finished command left: its stdout (when collected) and the end of its stderr.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Connection {
    pub(super) fn new(
        session: Session,
        max_channels: usize,
        deadlines: Deadlines,
        destination: String,
        reporter: SharedReporter,
    ) -> Connection {
        Connection {
            session,
            channels: Semaphore::new(max_channels.max(1)),
            deadlines,
            destination,
            reporter,
            tag: new_tag(),
        }
    }

    /// The value of `TEND_CONN` in the environment of this connection's remote commands.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Waits, up to `limit`, until no process of the SSH user on the host carries another
    /// connection's `tag` (Linux hosts: read from /proc): a command whose connection was
    /// cut goes on running (sshd only closes its pipes), and what undoes its work must not
    /// overlap it. Whether they ended in time. (The wait's own processes never count:
    /// the shell it runs in got `TEND_CONN` after it started, and the glob naming the
    /// processes is expanded before each `grep` starts.)
    pub async fn wait_for_processes_of(
        &self,
        tag: &str,
        limit: Duration,
    ) -> Result<bool, RemoteError> {
        let script = format!(
            "t={secs}; while grep -aqs {pattern} /proc/[0-9]*/environ; do                [ \"$t\" -gt 0 ] || {{ echo running; exit 0; }}; sleep 1; t=$((t - 1)); done; echo ended",
            secs = limit.as_secs(),
            pattern = super::quote(&format!("TEND_CONN={tag}")),
        );
        let output = self
            .run_within(
                &RemoteCommand::script(&script),
                None,
                1024,
                Deadline::Total(limit + Duration::from_secs(60)),
            )
            .await?;
        Ok(output.stdout_text().trim() == "ended")
    }

    /// `user@host:port`, as shown in messages.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Whether the master connection still answers (it may have died: killed, or closed by
    /// ssh after the host stopped answering its keep-alives).
    pub async fn is_alive(&self) -> bool {
        matches!(
            tokio::time::timeout(ALIVE_CHECK_LIMIT, self.session.check()).await,
            Ok(Ok(()))
        )
    }

    /// Whether the master is still alive a moment after a command lost its exit status
    /// (a master whose connection broke is still exiting when its clients hear of it).
    async fn survived(&self) -> bool {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.is_alive().await
    }

    /// The control socket of the master connection (the master's command line names it).
    pub fn control_socket(&self) -> &std::path::Path {
        self.session.control_socket()
    }

    /// Runs `command`, feeding it `stdin`, and collects stdout up to `limit` bytes.
    /// A non-zero exit is an error carrying the command and the tail of stderr.
    /// The command has the connection's command deadline ([`COMMAND_LIMIT`] unless
    /// configured) to finish.
    pub async fn run(
        &self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        limit: usize,
    ) -> Result<Output, RemoteError> {
        self.run_within(
            command,
            stdin,
            limit,
            Deadline::Total(self.deadlines.command),
        )
        .await
    }

    /// [`Connection::run`] with a deadline of the caller's.
    pub async fn run_within(
        &self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        limit: usize,
        deadline: Deadline,
    ) -> Result<Output, RemoteError> {
        let mut input = stdin;
        self.collect(
            command,
            input
                .as_mut()
                .map(|i| i as &mut (dyn AsyncRead + Unpin + Send)),
            limit,
            deadline,
        )
        .await
    }

    /// Runs `command` and writes its stdout into `sink` as it arrives; returns the bytes
    /// written and the tail of stderr. The sink is flushed but not shut down. It ends when
    /// no byte moved for [`TRANSFER_IDLE_LIMIT`].
    pub async fn stream_to<W>(
        &self,
        command: &RemoteCommand,
        stdin: Option<&[u8]>,
        sink: &mut W,
    ) -> Result<(u64, String), RemoteError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let mut counting = CountingWriter {
            inner: sink,
            count: 0,
        };
        let mut input = stdin;
        let stderr = self
            .execute(
                command,
                input
                    .as_mut()
                    .map(|i| i as &mut (dyn AsyncRead + Unpin + Send)),
                &mut counting,
                Deadline::Idle(self.deadlines.transfer_idle),
            )
            .await?;
        Ok((counting.count, stderr))
    }

    /// [`Connection::stream_to`] with `input` streamed to the command's stdin (closed at
    /// the end of `input`): a command that reads a long list and answers with a long
    /// stream (`tar --files-from=-`). Neither side is held in memory.
    pub async fn stream_through<R, W>(
        &self,
        command: &RemoteCommand,
        input: &mut R,
        sink: &mut W,
    ) -> Result<(u64, String), RemoteError>
    where
        R: AsyncRead + Unpin + Send,
        W: AsyncWrite + Unpin + Send,
    {
        let mut counting = CountingWriter {
            inner: sink,
            count: 0,
        };
        let stderr = self
            .execute(
                command,
                Some(input),
                &mut counting,
                Deadline::Idle(self.deadlines.transfer_idle),
            )
            .await?;
        Ok((counting.count, stderr))
    }

    /// Runs `command` with `input` streamed to its stdin (closed at the end of `input`),
    /// collecting stdout up to `limit` bytes. For uploads of any size: `input` is read as
    /// the command consumes it. It ends when no byte moved for [`TRANSFER_IDLE_LIMIT`];
    /// when the command ends first, `input` is no longer read (a writer feeding it sees its
    /// pipe closed once the caller drops the reading end).
    pub async fn run_with_input<R>(
        &self,
        command: &RemoteCommand,
        input: &mut R,
        limit: usize,
    ) -> Result<Output, RemoteError>
    where
        R: AsyncRead + Unpin + Send,
    {
        self.collect(
            command,
            Some(input),
            limit,
            Deadline::Idle(self.deadlines.transfer_idle),
        )
        .await
    }

    /// Runs `command` and collects its stdout into memory, refusing more than `limit` bytes.
    async fn collect(
        &self,
        command: &RemoteCommand,
        input: Option<&mut (dyn AsyncRead + Unpin + Send)>,
        limit: usize,
        deadline: Deadline,
    ) -> Result<Output, RemoteError> {
        let mut sink = CappedBuffer {
            data: Vec::new(),
            limit,
            overflowed: false,
        };
        let result = self.execute(command, input, &mut sink, deadline).await;
        if sink.overflowed {
            return Err(RemoteError::OutputTooLarge {
                destination: self.destination.clone(),
                command: command.to_string(),
                limit,
            });
        }
        let stderr = result?;
        Ok(Output {
            stdout: sink.data,
            stderr,
        })
    }

    async fn execute<W>(
        &self,
        command: &RemoteCommand,
        stdin: Option<&mut (dyn AsyncRead + Unpin + Send)>,
        sink: &mut W,
        deadline: Deadline,
    ) -> Result<String, RemoteError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let _permit = self
            .channels
            .acquire()
            .await
            .map_err(|_| self.transport(command, "connection closed"))?;
        let shown = command.to_string();
        self.reporter.event(&Event::Command {
            destination: &self.destination,
            command: &shown,
        });
        // Bytes moved either way: what an idle deadline watches.
        let moved = AtomicU64::new(0);
        let work = self.exchange(command, &shown, stdin, sink, &moved);
        let watch = async {
            match deadline {
                Deadline::Total(limit) => tokio::time::sleep(limit).await,
                Deadline::Idle(limit) => {
                    let mut seen = moved.load(Ordering::Relaxed);
                    loop {
                        tokio::time::sleep(limit).await;
                        let now = moved.load(Ordering::Relaxed);
                        if now == seen {
                            break;
                        }
                        seen = now;
                    }
                }
            }
        };
        tokio::select! {
            result = work => result,
            // Dropping the exchange closes our ends of the channel: the remote command
            // sees its input end and its output go nowhere.
            () = watch => Err(RemoteError::TimedOut {
                destination: self.destination.clone(),
                command: shown.clone(),
                deadline,
            }),
        }
    }

    /// Runs `command` on a channel: feeds its stdin, copies its stdout into `sink`, keeps
    /// the end of its stderr, and returns that once it exited successfully.
    async fn exchange<W>(
        &self,
        command: &RemoteCommand,
        shown: &str,
        stdin: Option<&mut (dyn AsyncRead + Unpin + Send)>,
        sink: &mut W,
        moved: &AtomicU64,
    ) -> Result<String, RemoteError>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let mut child = self.spawn(command, stdin.is_some()).await?;

        let mut child_stdin = child.stdin().take();
        let child_stdout = child
            .stdout()
            .take()
            .ok_or_else(|| self.transport(command, "no stdout pipe"))?;
        let mut child_stderr = child
            .stderr()
            .take()
            .ok_or_else(|| self.transport(command, "no stderr pipe"))?;
        let mut stdin = stdin.map(|inner| Ticking { inner, moved });
        let mut child_stdout = Ticking {
            inner: child_stdout,
            moved,
        };

        let feed = async {
            if let (Some(pipe), Some(data)) = (child_stdin.as_mut(), stdin.as_mut()) {
                // A command may exit without reading all its input; that is its business,
                // its exit status tells. A failure to read our own input is ours, though.
                match tokio::io::copy(data, pipe).await {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                    Err(e) => return Err(e),
                }
                let _ = pipe.shutdown().await;
            }
            drop(child_stdin.take());
            Ok::<(), std::io::Error>(())
        };
        let copy_out = async {
            copy_stream(&mut child_stdout, sink).await?;
            sink.flush().await
        };
        let collect_err = async {
            let mut kept: Vec<u8> = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match child_stderr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        moved.fetch_add(n as u64, Ordering::Relaxed);
                        kept.extend_from_slice(&buf[..n]);
                        if kept.len() > 2 * STDERR_KEEP_BYTES {
                            kept.drain(..kept.len() - STDERR_KEEP_BYTES);
                        }
                    }
                }
            }
            Ok(String::from_utf8_lossy(&kept).into_owned())
        };
        let outputs = async { tokio::try_join!(copy_out, collect_err) };
        // The remote side has ended when its stdout and stderr have: it exited, or the
        // channel broke. Feeding stops then, whatever is left of the input: a writer
        // upstream must not wait for ever on a pipe nobody reads any more. If the sink
        // refuses data (a capped buffer is full, a disk is full) or our input fails, the
        // rest is dropped at once: waiting for the outputs to end would wait for ever for
        // a command blocked on writing to us.
        let ended = {
            tokio::pin!(feed);
            tokio::pin!(outputs);
            let mut feeding = true;
            loop {
                tokio::select! {
                    fed = &mut feed, if feeding => match fed {
                        Ok(()) => feeding = false,
                        Err(e) => break Err(e),
                    },
                    out = &mut outputs => break out.map(|((), stderr)| stderr),
                }
            }
        };
        let stderr = match ended {
            Ok(stderr) => stderr,
            Err(e) => {
                drop(child_stdout);
                drop(child_stderr);
                let _ = child.disconnect().await;
                return Err(self.transport(command, &e.to_string()));
            }
        };
        drop(child_stdin);
        drop(child_stdout);
        drop(child_stderr);
        let status = child.wait().await;
        match status {
            Ok(status) if status.success() => Ok(stderr),
            Ok(status) => Err(RemoteError::CommandFailed {
                destination: self.destination.clone(),
                command: shown.to_owned(),
                status: status.code(),
                stderr_tail: tail_lines(&stderr, STDERR_TAIL_LINES),
            }),
            // No exit status: the remote process was killed by a signal — or the
            // connection was lost (the master tells its clients the same way when it
            // dies); the master being gone tells them apart.
            Err(openssh::Error::RemoteProcessTerminated) if !self.survived().await => {
                Err(self.transport(command, "the connection was lost while the command ran"))
            }
            Err(openssh::Error::RemoteProcessTerminated) => Err(RemoteError::CommandFailed {
                destination: self.destination.clone(),
                command: shown.to_owned(),
                status: None,
                stderr_tail: tail_lines(&stderr, STDERR_TAIL_LINES),
            }),
            Err(e) => Err(self.transport(command, &crate::error_chain::describe(&e))),
        }
    }

    /// Opens a channel for `command`. sshd counts a channel as open until it has finished
    /// closing it, so right after one of ours ends, a new one can still be refused for
    /// exceeding `MaxSessions`; the command has not started then, and we try again shortly.
    async fn spawn(
        &self,
        command: &RemoteCommand,
        with_stdin: bool,
    ) -> Result<openssh::Child<&Session>, RemoteError> {
        let mut delay = std::time::Duration::from_millis(20);
        let mut attempts = 0;
        loop {
            let spawned = self
                .session
                .raw_command(format!(
                    "TEND_CONN={}; export TEND_CONN; {}",
                    self.tag,
                    command.as_str()
                ))
                .stdin(if with_stdin {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .await;
            match spawned {
                Ok(child) => return Ok(child),
                Err(e) => {
                    let detail = crate::error_chain::describe(&e);
                    attempts += 1;
                    if !detail.contains("open refused") || attempts >= CHANNEL_OPEN_ATTEMPTS {
                        return Err(self.transport(command, &detail));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_millis(500));
                }
            }
        }
    }

    fn transport(&self, command: &RemoteCommand, detail: &str) -> RemoteError {
        RemoteError::Transport {
            destination: self.destination.clone(),
            command: command.to_string(),
            detail: detail.to_owned(),
        }
    }

    pub(super) async fn close(self) {
        let _ = self.session.close().await;
    }
}

/// A tag no other connection has: the process, the time and a counter.
fn new_tag() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}{:012x}{:04x}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff,
        COUNT.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

async fn copy_stream<R, W>(reader: &mut R, writer: &mut W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    tokio::io::copy(reader, writer).await
}

/// Collects output up to a limit; past it, refuses writes so the copy stops.
struct CappedBuffer {
    data: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.data.len() + buf.len() > self.limit {
            self.overflowed = true;
            return Poll::Ready(Err(std::io::Error::other("output limit exceeded")));
        }
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A reader that counts the bytes it hands out into `moved`.
struct Ticking<'a, R> {
    inner: R,
    moved: &'a AtomicU64,
}

impl<R: AsyncRead + Unpin> AsyncRead for Ticking<'_, R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if read > 0 {
            this.moved.fetch_add(read as u64, Ordering::Relaxed);
        }
        polled
    }
}

struct CountingWriter<'a, W> {
    inner: &'a mut W,
    count: u64,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for CountingWriter<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut *this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.count += n as u64;
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}
