//! Reads a request body exactly once: every byte is hashed as it arrives (the signature
//! covers the bytes as received), at most `limit` bytes are kept, and reading stops at
//! `cap`. A body between the two is hashed and discarded, so the gateway can still verify
//! its signature before the capability reports it too large.
//!
//! Kept bytes are paid for from the server's [`Budget`] (`--max-body-memory`): the declared
//! Content-Length up front, or in steps as a chunked body grows. A body the budget has no
//! room for within its wait is hashed and dropped like one over the limit, and marked
//! `no_room`, so the gateway still decides its signature before the 503.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Body;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::vision::{Streamed, Streaming};

/// The step in which a chunked body's memory is reserved.
const STEP: u64 = 64 * 1024;

/// A body as received.
#[derive(Debug)]
pub struct Received {
    /// The whole body, or empty when it was longer than the limit or not kept.
    pub bytes: Bytes,
    /// How many bytes arrived.
    pub len: u64,
    /// True when the body was longer than the limit and was not kept.
    pub over_limit: bool,
    /// True when the body was to be kept but the budget had no room for it in time.
    pub no_room: bool,
    /// Lowercase hex SHA-256 of every byte received (empty when not asked for).
    pub sha256_hex: String,
    /// The `image` member of a large body, decoded while the body arrived.
    pub image: Option<Streamed>,
    /// The budget's bytes that pay for `bytes`, given back when this is dropped.
    pub _permit: Option<OwnedSemaphorePermit>,
}

impl Received {
    /// A body kept whole, paid for by nobody: for tests.
    #[cfg(test)]
    pub fn whole(bytes: Bytes) -> Received {
        let sha256_hex = hex(&Sha256::digest(&bytes));
        Received {
            len: bytes.len() as u64,
            bytes,
            over_limit: false,
            no_room: false,
            sha256_hex,
            image: None,
            _permit: None,
        }
    }

    /// The same body for another thread; the budget's bytes stay with `self`.
    pub fn share(&self) -> Received {
        Received {
            bytes: self.bytes.clone(),
            len: self.len,
            over_limit: self.over_limit,
            no_room: self.no_room,
            sha256_hex: self.sha256_hex.clone(),
            image: self.image.clone(),
            _permit: None,
        }
    }
}

/// The bytes all kept bodies may take together (`--max-body-memory`), and how long a
/// request waits for room before it is refused. A tokio `Semaphore` of bytes.
#[derive(Debug)]
pub struct Budget {
    bytes: Arc<Semaphore>,
    total: u64,
    wait: Duration,
}

impl Budget {
    pub fn new(total: u64, wait: Duration) -> Budget {
        let total = total.min(Semaphore::MAX_PERMITS as u64);
        Budget { bytes: Arc::new(Semaphore::new(total as usize)), total, wait }
    }

    /// The budget, in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes held by bodies now.
    #[cfg(test)]
    pub fn in_use(&self) -> u64 {
        self.total - self.bytes.available_permits() as u64
    }

    /// `n` bytes if they are free now.
    fn try_reserve(&self, n: u64) -> Option<OwnedSemaphorePermit> {
        self.bytes.clone().try_acquire_many_owned(u32::try_from(n).ok()?).ok()
    }

    /// `n` bytes, waiting until `deadline` at most; none at once if `n` is over the total.
    async fn reserve(&self, n: u64, deadline: Instant) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(n).ok().filter(|n| u64::from(*n) <= self.total)?;
        let acquire = self.bytes.clone().acquire_many_owned(n);
        tokio::time::timeout_at(deadline, acquire).await.ok()?.ok()
    }
}

/// How to read one body.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// Keep at most this many bytes.
    pub limit: usize,
    /// Stop reading past this many bytes.
    pub cap: u64,
    /// Keep the body at all: false for a request already known to fail.
    pub keep: bool,
    /// Hash the body: false when its signature will not be checked.
    pub hash: bool,
    /// Decode a large kept body's image while it arrives: for the endpoints that take one
    /// image string.
    pub image: bool,
    pub budget: &'a Budget,
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// More than `cap` bytes: reading stopped; the connection must close.
    OverCap { cap: u64 },
    /// The client went away or sent a broken body.
    Io(String),
}

/// What is being kept, and the budget's bytes that pay for it.
struct Keeper<'a> {
    plan: Plan<'a>,
    kept: Kept,
    permit: Option<OwnedSemaphorePermit>,
    paid: u64,
    no_room: bool,
    deadline: Instant,
}

impl Keeper<'_> {
    /// Pays for the bytes up to `upto` (`step` more when it can), or stops keeping.
    async fn pay(&mut self, upto: u64, step: u64) {
        if upto <= self.paid || self.no_room {
            return;
        }
        let room = (self.plan.limit as u64).min(self.plan.budget.total).saturating_sub(self.paid);
        let want = (upto - self.paid).max(step).min(room).max(upto - self.paid);
        match self.plan.budget.reserve(want, self.deadline).await {
            Some(more) => {
                self.paid += want;
                match &mut self.permit {
                    Some(permit) => permit.merge(more),
                    None => self.permit = Some(more),
                }
            }
            None => self.stop(true),
        }
    }

    fn stop(&mut self, no_room: bool) {
        self.no_room |= no_room;
        self.kept = Kept::Dropped;
        self.permit = None;
        self.paid = 0;
    }
}

/// Reads `body` once. `declared` is the Content-Length, if any: a body declared over `cap`
/// is refused before a byte is read, and one within `limit` is paid for and gets its
/// buffer in one piece.
pub async fn read<B>(body: B, declared: Option<u64>, plan: Plan<'_>) -> Result<Received, ReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    Ok(receive(body, declared, plan).await?.hashed().await)
}

/// A body whose every byte has arrived, its hash perhaps still being computed beside: the
/// bytes can be read (see [`Arrived::received`]) before [`Arrived::hashed`] is awaited.
pub struct Arrived {
    received: Received,
    hasher: Hasher,
}

impl Arrived {
    /// The body so far: everything but its hash, which is empty here.
    pub fn received(&self) -> &Received {
        &self.received
    }

    /// The image of a large kept body, being decoded beside its hash; taken once.
    pub fn decoding(&mut self) -> Option<Decoding> {
        match self.received.bytes.is_empty() {
            true => None,
            false => self.hasher.decoding(),
        }
    }

    /// The body with its hash, once the hash is done.
    pub async fn hashed(self) -> Received {
        Received { sha256_hex: self.hasher.finish().await, ..self.received }
    }
}

/// [`read`] up to the last byte, without waiting for the hash.
pub async fn receive<B>(body: B, declared: Option<u64>, plan: Plan<'_>) -> Result<Arrived, ReadError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    if declared.is_some_and(|n| n > plan.cap) {
        return Err(ReadError::OverCap { cap: plan.cap });
    }
    let limit = plan.limit as u64;
    let mut keeper = Keeper {
        plan,
        kept: if plan.keep { Kept::Empty } else { Kept::Dropped },
        permit: None,
        paid: 0,
        no_room: false,
        deadline: Instant::now() + plan.budget.wait,
    };
    if let Some(n) = declared.filter(|n| plan.keep && *n <= limit && *n > 0) {
        keeper.pay(n, 0).await;
    }
    let mut body = body;
    // Declared within the limit and paid for: kept whole.
    let kept_whole = declared.is_some_and(|n| n <= limit) && matches!(keeper.kept, Kept::Empty);
    let large = declared.filter(|n| *n >= LARGE as u64);
    // A large body kept whole also has its image decoded while it arrives, when the budget
    // has room for the decoded bytes too (three quarters of the body) without waiting.
    let image = match large.filter(|_| plan.image && kept_whole) {
        Some(n) => keeper.plan.budget.try_reserve(n / 4 * 3).map(|more| {
            match &mut keeper.permit {
                Some(permit) => permit.merge(more),
                None => keeper.permit = Some(more),
            }
            n as usize
        }),
        None => None,
    };
    let mut hasher = match plan.hash {
        false => Hasher::None,
        true if large.is_some() => Hasher::batches(image, kept_whole),
        true => Hasher::Inline(Sha256::new()),
    };
    let mut len: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Io(e.to_string()))?;
        let Ok(chunk) = frame.into_data() else { continue };
        len += chunk.len() as u64;
        if len > plan.cap {
            return Err(ReadError::OverCap { cap: plan.cap });
        }
        hasher.update(&chunk).await;
        if matches!(keeper.kept, Kept::Dropped) {
            continue;
        }
        if len > limit {
            keeper.stop(false);
            continue;
        }
        keeper.pay(len, STEP).await;
        keeper.kept = std::mem::replace(&mut keeper.kept, Kept::Empty).push(chunk, declared, plan.limit);
    }
    let received = Received {
        bytes: keeper.kept.into_bytes(),
        len,
        over_limit: len > limit,
        no_room: keeper.no_room,
        sha256_hex: String::new(),
        image: None,
        _permit: keeper.permit,
    };
    Ok(Arrived { received, hasher })
}

/// A large body: one declared at least this long is hashed on blocking threads while it
/// arrives (and one kept past it is read by its capability on a blocking thread too).
pub const LARGE: usize = 1 << 20;

/// The bytes a lane's thread takes at a time: whole chunks, until they reach a batch. A
/// body that is not kept holds, while it is hashed, at most a batch queued and one being
/// hashed, each perhaps overrun by a chunk (hyper's are at most 408 KiB over HTTP/1).
const BATCH: usize = 256 * 1024;

/// The bytes queued before a thread is started for them, when none is at work: the hash
/// starts soon after the first bytes (the hash of a large body is what its answer waits
/// for), and a slow client costs a thread for each 64 KiB it sends, held only while they
/// are hashed.
const START: usize = 64 * 1024;

/// The most bytes a kept body queues while its work is behind; past it, reading waits.
/// Until then the client's sending never waits for the hash, and a 1 MB body arrives as
/// fast as it is sent (a body not kept waits at one batch). Outside the budget, a kept
/// body's chunks waiting to be hashed are at most `LAG` and a batch, each perhaps overrun
/// by a chunk.
const LAG: usize = 4 * BATCH;

/// SHA-256 of the body as it arrives: on the reading task for a small body; for a large
/// one in batches on blocking threads, so that receiving the next batch overlaps hashing
/// this one (on two cores the body costs the longer of the two, not their sum). A large
/// body that is kept has its image decoded the same way, beside the hash.
enum Hasher {
    None,
    Inline(Sha256),
    /// Boxed: a large body's work is larger than the small body's hasher.
    Batches(Box<Batches>),
}

/// A large body's batches: the hash, and the image when it is decoded beside.
struct Batches {
    hash: Lane<Sha256>,
    image: Option<Lane<Streaming>>,
}

/// One piece of work on a large body (its hash, or its image), done on blocking threads in
/// the order the chunks arrived. The reading task queues each chunk (shared, not copied).
/// Once `START` bytes are queued and no thread is at work, a blocking thread is started
/// with it; after each batch that thread goes on with what was queued meanwhile, and it
/// stops when nothing is: while the client sends faster than the work goes, one thread
/// does the whole body without waiting to be handed each batch, and no thread is held
/// while a slow client sends. Reading waits while `lag` bytes are queued.
struct Lane<S> {
    state: Arc<LaneState<S>>,
    /// The thread last started; the work is idle again once it is done.
    worker: Option<tokio::task::JoinHandle<()>>,
    lag: usize,
}

/// What a lane's reading task and its thread share.
struct LaneState<S> {
    queue: std::sync::Mutex<Queue<S>>,
    /// Told each time the thread takes a batch or stops.
    taken: tokio::sync::Notify,
}

struct Queue<S> {
    chunks: std::collections::VecDeque<Bytes>,
    /// The bytes of `chunks`.
    len: usize,
    /// The work, while no thread has it.
    idle: Option<S>,
    /// No later byte can change the result (or its thread failed): nothing more is queued.
    closed: bool,
}

impl<S> Queue<S> {
    /// The next batch: the chunks at the front, up to a batch's worth.
    fn batch(&mut self) -> Vec<Bytes> {
        let mut batch = Vec::new();
        let mut taken = 0;
        while taken < BATCH {
            let Some(chunk) = self.chunks.pop_front() else { break };
            taken += chunk.len();
            batch.push(chunk);
        }
        self.len -= taken;
        batch
    }

    /// Every chunk queued.
    fn drain(&mut self) -> Vec<Bytes> {
        self.len = 0;
        self.chunks.drain(..).collect()
    }

    fn close(&mut self) {
        self.closed = true;
        self.chunks.clear();
        self.len = 0;
    }
}

impl<S> LaneState<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<S>> {
        // Nothing panics while the lock is held; a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<S: Sink> Lane<S> {
    fn new(sink: S, lag: usize) -> Lane<S> {
        let queue = Queue { chunks: Default::default(), len: 0, idle: Some(sink), closed: false };
        let state = Arc::new(LaneState { queue: std::sync::Mutex::new(queue), taken: tokio::sync::Notify::new() });
        Lane { state, worker: None, lag }
    }

    async fn update(&mut self, chunk: &Bytes) {
        let start = {
            let mut queue = self.state.lock();
            if queue.closed {
                return;
            }
            queue.chunks.push_back(chunk.clone());
            queue.len += chunk.len();
            match queue.len >= START {
                true => queue.idle.take().map(|sink| (sink, queue.batch())),
                false => None,
            }
        };
        if let Some((sink, batch)) = start {
            self.start(sink, batch);
        }
        loop {
            // A notification given before this wait is kept for it (`notify_one`).
            let taken = self.state.taken.notified();
            if self.state.lock().len < self.lag {
                return;
            }
            taken.await;
        }
    }

    fn start(&mut self, sink: S, batch: Vec<Bytes>) {
        let state = self.state.clone();
        self.worker = Some(tokio::task::spawn_blocking(move || work(&state, sink, batch)));
    }

    /// The work, once every chunk queued is done (`None` when its thread failed). The
    /// chunks queued but not a batch's worth are done on a blocking thread too, never on
    /// the reading task; `rest` takes them instead, to be done by the caller.
    async fn finish(&mut self, rest: bool) -> Option<(S, Vec<Bytes>)> {
        if !rest {
            let mut queue = self.state.lock();
            let start = match queue.chunks.is_empty() {
                true => None,
                false => queue.idle.take().map(|sink| (sink, queue.drain())),
            };
            drop(queue);
            if let Some((sink, batch)) = start {
                self.start(sink, batch);
            }
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
        }
        let mut queue = self.state.lock();
        let sink = queue.idle.take()?;
        Some((sink, queue.drain()))
    }
}

impl<S> Drop for Lane<S> {
    /// A body given up: its thread stops after the batch it is on.
    fn drop(&mut self) {
        self.state.lock().close();
    }
}

/// A lane's thread: the batch it was started with, then each one queued meanwhile.
fn work<S: Sink>(state: &LaneState<S>, mut sink: S, mut batch: Vec<Bytes>) {
    /// Closes the lane if the work panics, so that reading never waits for it.
    struct Failed<'a, S>(Option<&'a LaneState<S>>);
    impl<S> Drop for Failed<'_, S> {
        fn drop(&mut self) {
            if let Some(state) = self.0 {
                state.lock().close();
                state.taken.notify_one();
            }
        }
    }
    let mut failed = Failed(Some(state));
    loop {
        for chunk in &batch {
            sink.update(chunk);
        }
        let mut queue = state.lock();
        if sink.done() {
            queue.close();
        }
        if queue.chunks.is_empty() {
            queue.idle = Some(sink);
            drop(queue);
            failed.0 = None;
            state.taken.notify_one();
            return;
        }
        batch = queue.batch();
        drop(queue);
        state.taken.notify_one();
    }
}

/// Work done on a large body's batches, in order, on blocking threads.
trait Sink: Send + 'static {
    fn update(&mut self, chunk: &[u8]);

    /// True when no later byte can change the result: no thread is taken for the rest.
    fn done(&self) -> bool {
        false
    }
}

impl Sink for Sha256 {
    fn update(&mut self, chunk: &[u8]) {
        Digest::update(self, chunk);
    }
}

impl Sink for Streaming {
    fn update(&mut self, chunk: &[u8]) {
        Streaming::update(self, chunk);
    }

    fn done(&self) -> bool {
        Streaming::done(self)
    }
}

/// The image of a large body being decoded beside its reading (see [`Streaming`]).
pub struct Decoding {
    lane: Lane<Streaming>,
}

impl Decoding {
    /// Waits for the batches handed over; gives the work left, to be run on a blocking
    /// thread: decoding the bytes queued but not handed over, then the image if the whole
    /// text was.
    pub async fn rest(mut self) -> Option<impl FnOnce() -> Option<Streamed> + Send + 'static> {
        let (mut streaming, rest) = self.lane.finish(true).await?;
        Some(move || {
            for chunk in &rest {
                streaming.update(chunk);
            }
            streaming.finish()
        })
    }
}

impl Hasher {
    /// `kept`: the body is kept whole, so it may queue up to `LAG` while its work is behind
    /// (one not kept waits at one batch).
    fn batches(image: Option<usize>, kept: bool) -> Hasher {
        let lag = if kept { LAG } else { BATCH };
        Hasher::Batches(Box::new(Batches {
            hash: Lane::new(Sha256::new(), lag),
            image: image.map(|declared| Lane::new(Streaming::new(declared), lag)),
        }))
    }

    async fn update(&mut self, chunk: &Bytes) {
        match self {
            Hasher::None => {}
            Hasher::Inline(hasher) => Digest::update(hasher, chunk),
            Hasher::Batches(batches) => {
                batches.hash.update(chunk).await;
                if let Some(image) = &mut batches.image {
                    image.update(chunk).await;
                }
            }
        }
    }

    /// The image being decoded beside, with the bytes it has still to be given.
    fn decoding(&mut self) -> Option<Decoding> {
        let Hasher::Batches(batches) = self else { return None };
        Some(Decoding { lane: batches.image.take()? })
    }

    /// Lowercase hex, or empty when not hashed (or when a hashing thread failed, which
    /// the gateway then reports as a wrong signature).
    async fn finish(self) -> String {
        match self {
            Hasher::None => String::new(),
            Hasher::Inline(hasher) => hex(&hasher.finalize()),
            Hasher::Batches(mut batches) => match batches.hash.finish(false).await {
                Some((hasher, _)) => hex(&hasher.finalize()),
                None => String::new(),
            },
        }
    }
}

/// The bytes kept so far. The common case — the whole body in one frame — is never copied.
enum Kept {
    Empty,
    One(Bytes),
    Many(BytesMut),
    Dropped,
}

impl Kept {
    fn push(self, chunk: Bytes, declared: Option<u64>, limit: usize) -> Kept {
        match self {
            Kept::Empty => Kept::One(chunk),
            Kept::One(first) => {
                let want = declared.map_or(0, |n| n as usize).min(limit).max(first.len() + chunk.len());
                let mut buf = BytesMut::with_capacity(want);
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&chunk);
                Kept::Many(buf)
            }
            Kept::Many(mut buf) => {
                buf.extend_from_slice(&chunk);
                Kept::Many(buf)
            }
            Kept::Dropped => Kept::Dropped,
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Kept::Empty | Kept::Dropped => Bytes::new(),
            Kept::One(b) => b,
            Kept::Many(b) => b.freeze(),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that arrives in the given frames.
    struct Frames(VecDeque<&'static [u8]>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|p| Ok(Frame::data(Bytes::from_static(p)))))
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> Frames {
        Frames(parts.iter().copied().collect())
    }

    fn plan(budget: &Budget, limit: usize, cap: u64) -> Plan<'_> {
        Plan { limit, cap, keep: true, hash: true, image: true, budget }
    }

    fn budget(total: u64) -> Budget {
        Budget::new(total, Duration::from_millis(20))
    }

    #[tokio::test]
    async fn keeps_a_body_within_the_limit_and_hashes_it() {
        let b = budget(1 << 20);
        let got = read(Full::new(Bytes::from_static(b"abc")), Some(3), plan(&b, 10, 20)).await.expect("read");
        assert_eq!(&got.bytes[..], b"abc");
        assert_eq!(got.sha256_hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let got = read(chunks(&[b"a", b"b", b"c"]), None, plan(&b, 10, 20)).await.expect("read");
        assert_eq!((&got.bytes[..], got.len), (&b"abc"[..], 3));
    }

    #[tokio::test]
    async fn hashes_but_drops_a_body_over_the_limit() {
        let b = budget(1 << 20);
        let got = read(chunks(&[b"ab", b"c"]), None, plan(&b, 2, 20)).await.expect("read");
        assert!(got.over_limit && got.bytes.is_empty() && got._permit.is_none());
        assert_eq!(got.sha256_hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(b.in_use(), 0);
    }

    #[tokio::test]
    async fn a_large_body_is_hashed_beside_as_it_would_be_inline() {
        let b = budget(1 << 24);
        // Bytes that differ, so that a chunk hashed out of order changes the hash.
        let whole: Vec<u8> = (0..LARGE * 3 + 5).map(|i| (i % 251) as u8).collect();
        let whole: &'static [u8] = Box::leak(whole.into_boxed_slice());
        let parts: Vec<&'static [u8]> = whole.chunks(100_000).collect();
        let expected = hex(&Sha256::digest(whole));
        let n = whole.len();
        for declared in [Some(n as u64), None] {
            let got = read(chunks(&parts), declared, plan(&b, n, n as u64)).await.expect("read");
            assert_eq!((got.sha256_hex.as_str(), got.len, got.bytes.len()), (expected.as_str(), n as u64, n));
        }
        let dropped = read(chunks(&parts), Some(n as u64), plan(&b, 10, n as u64)).await.expect("read");
        assert!(dropped.over_limit && dropped.bytes.is_empty() && dropped.sha256_hex == expected);
    }

    /// The image of a large kept body is decoded beside its hash, by its lane's thread and
    /// from the bytes queued after it stopped; a body not kept decodes nothing.
    #[tokio::test]
    async fn a_large_kept_body_has_its_image_decoded_as_it_arrives() {
        use base64::Engine;
        let b = budget(1 << 24);
        let image: Vec<u8> = (0..LARGE as u32).map(|i| (i % 251) as u8).collect();
        let text = base64::engine::general_purpose::STANDARD.encode(&image);
        let whole: &'static [u8] = Box::leak(format!(r#"{{"image": "{text}"}}"#).into_bytes().into_boxed_slice());
        let n = whole.len();
        // Chunks of HTTP/2's 16 KiB leave the last ones, fewer than `START` bytes, to the rest.
        for size in [16_384, 70_001] {
            let parts: Vec<&'static [u8]> = whole.chunks(size).collect();
            let mut arrived = receive(chunks(&parts), Some(n as u64), plan(&b, n, n as u64)).await.expect("read");
            let rest = arrived.decoding().expect("decoding").rest().await.expect("the decoder came back");
            let streamed = tokio::task::spawn_blocking(rest).await.expect("decoded").expect("the whole text");
            assert_eq!((streamed.start, streamed.end, &streamed.bytes[..]), (11, 11 + text.len(), &image[..]));
        }
        // Fewer than `START` bytes start no thread: the whole text is decoded as the rest.
        let small = br#"{"image": "aGVsbG8="}"#;
        let mut lane = Lane::new(Streaming::new(small.len()), LAG);
        lane.update(&Bytes::from_static(small)).await;
        let rest = Decoding { lane }.rest().await.expect("the decoder came back");
        assert_eq!(rest().map(|s| s.bytes), Some(Bytes::from_static(b"hello")));
        let parts: Vec<&'static [u8]> = whole.chunks(70_001).collect();
        let arrived = receive(chunks(&parts), Some(n as u64), plan(&b, n, n as u64)).await.expect("read");
        let received = arrived.hashed().await;
        assert_eq!(received.sha256_hex, hex(&Sha256::digest(whole)));
        // The decoded bytes are paid for from the budget with the body, and given back with it.
        assert_eq!(b.in_use(), (n + n / 4 * 3) as u64);
        drop(received);
        assert_eq!(b.in_use(), 0);
        let mut dropped = receive(chunks(&parts), Some(n as u64), plan(&b, 10, n as u64)).await.expect("read");
        assert!(dropped.decoding().is_none());
        // An endpoint that takes no one image string: kept, nothing decoded or paid for it.
        let no_image = Plan { image: false, ..plan(&b, n, n as u64) };
        let mut list = receive(chunks(&parts), Some(n as u64), no_image).await.expect("read");
        assert!(list.decoding().is_none() && list.received().bytes.len() == n);
        assert_eq!(b.in_use(), n as u64);
        drop(list);
        // Room for the body but not for its image: kept, and its image decoded after.
        let tight = budget(n as u64 + 10);
        let mut kept = receive(chunks(&parts), Some(n as u64), plan(&tight, n, n as u64)).await.expect("read");
        assert!(kept.decoding().is_none() && kept.received().bytes.len() == n);
    }

    /// Work that takes each chunk only when the test lets it.
    struct Gate(std::sync::mpsc::Receiver<()>);

    impl Sink for Gate {
        fn update(&mut self, _: &[u8]) {
            let _ = self.0.recv();
        }
    }

    /// A kept body goes on being read while the work on its batches is behind, up to `LAG`
    /// bytes; one not kept waits at the next batch. The work here never finishes its first
    /// batch until the end, so any wait would last.
    #[tokio::test]
    async fn a_kept_body_is_read_on_while_its_hash_is_behind_and_one_not_kept_waits() {
        let chunk = Bytes::from(vec![0u8; BATCH]);
        for (kept, lag) in [(true, LAG), (false, BATCH)] {
            let Hasher::Batches(batches) = Hasher::batches(Some(LARGE), kept) else { panic!("batches") };
            assert_eq!((batches.hash.lag, batches.image.map(|image| image.lag)), (lag, Some(lag)));
            let (go, gate) = std::sync::mpsc::channel();
            let mut lane = Lane::new(Gate(gate), lag);
            let mut read = 0;
            let waited = loop {
                match tokio::time::timeout(Duration::from_millis(200), lane.update(&chunk)).await {
                    Ok(()) => read += BATCH,
                    Err(_) => break read,
                }
                assert!(read <= 2 * LAG, "never waits");
            };
            // The first chunk went to the thread, then `lag` bytes were queued before a wait.
            assert_eq!((kept, waited), (kept, lag), "bytes read before reading waited");
            drop(go);
        }
    }

    /// Work that only counts the bytes it is given.
    struct Count(usize);

    impl Sink for Count {
        fn update(&mut self, chunk: &[u8]) {
            self.0 += chunk.len();
        }
    }

    /// A thread is started once `START` bytes are queued, not before; the bytes queued
    /// after the last thread are given back by `finish(true)`, or done on a thread by
    /// `finish(false)`.
    #[tokio::test]
    async fn a_lane_starts_its_thread_at_start_and_finish_takes_what_is_left() {
        let mut lane = Lane::new(Count(0), LAG);
        lane.update(&Bytes::from(vec![0u8; START - 1])).await;
        assert!(lane.worker.is_none(), "no thread before START bytes");
        lane.update(&Bytes::from(vec![0u8; 1])).await;
        assert!(lane.worker.is_some(), "a thread at START bytes");
        lane.update(&Bytes::from(vec![0u8; 10_000])).await;
        let (count, rest) = lane.finish(true).await.expect("the work came back");
        let left: usize = rest.iter().map(Bytes::len).sum();
        // The thread may have taken the last chunk before it stopped, or left it.
        assert_eq!(count.0 + left, START + 10_000);
        let mut lane = Lane::new(Count(0), LAG);
        lane.update(&Bytes::from(vec![0u8; 10_000])).await;
        let (count, rest) = lane.finish(true).await.expect("the work came back");
        assert_eq!((count.0, rest.iter().map(Bytes::len).sum::<usize>()), (0, 10_000));
        let mut lane = Lane::new(Count(0), LAG);
        lane.update(&Bytes::from(vec![0u8; 10_000])).await;
        let (count, rest) = lane.finish(false).await.expect("the work came back");
        assert_eq!((count.0, rest.len()), (10_000, 0));
    }

    /// Work that fails on its first chunk.
    struct Panics;

    impl Sink for Panics {
        fn update(&mut self, _: &[u8]) {
            panic!("a failing sink");
        }
    }

    /// Work whose thread fails closes its lane: reading goes on without waiting for it,
    /// and the work's result is none (for the hash: a signature that cannot match).
    #[tokio::test]
    async fn a_lane_whose_work_fails_never_holds_up_reading() {
        let chunk = Bytes::from(vec![0u8; BATCH]);
        let mut lane = Lane::new(Panics, BATCH);
        for _ in 0..8 {
            tokio::time::timeout(Duration::from_secs(5), lane.update(&chunk)).await.expect("never waits");
        }
        let finished = tokio::time::timeout(Duration::from_secs(5), lane.finish(false)).await;
        assert!(finished.expect("finishes").is_none());
    }

    #[tokio::test]
    async fn stops_reading_at_the_cap() {
        let b = budget(1 << 20);
        assert!(matches!(
            read(chunks(&[b"ab", b"cd"]), None, plan(&b, 1, 3)).await,
            Err(ReadError::OverCap { cap: 3 })
        ));
        assert!(matches!(read(Full::new(Bytes::new()), Some(4), plan(&b, 1, 3)).await, Err(ReadError::OverCap { .. })));
    }

    #[tokio::test]
    async fn a_kept_body_holds_its_bytes_of_the_budget_until_dropped() {
        let b = budget(10);
        let got = read(Full::new(Bytes::from_static(b"abcdef")), Some(6), plan(&b, 10, 20)).await.expect("read");
        assert_eq!((b.in_use(), got.no_room), (6, false));
        let second = read(Full::new(Bytes::from_static(b"abcdef")), Some(6), plan(&b, 10, 20)).await.expect("read");
        assert!(second.no_room && second.bytes.is_empty(), "no room for a second body: {second:?}");
        assert_eq!(second.sha256_hex.len(), 64, "a body without room is still hashed");
        drop(got);
        assert_eq!(b.in_use(), 0);
    }

    #[tokio::test]
    async fn a_chunked_body_pays_in_steps_and_a_body_known_to_fail_pays_nothing() {
        let b = budget(4);
        let got = read(chunks(&[b"ab", b"cd"]), None, plan(&b, 10, 20)).await.expect("read");
        assert_eq!((&got.bytes[..], b.in_use()), (&b"abcd"[..], 4));
        let refused = read(chunks(&[b"ab"]), None, Plan { keep: false, hash: false, ..plan(&b, 10, 20) }).await;
        let refused = refused.expect("read");
        assert!(refused.bytes.is_empty() && !refused.no_room && refused.sha256_hex.is_empty());
    }
}
